"""sd_notify over a real Unix datagram socket, as systemd's NOTIFY_SOCKET receives it."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.watchdog import PINGS_PER_PERIOD, Watchdog, notify, ping_interval


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify"
    sock.bind(str(path))
    sock.settimeout(2)
    yield sock, str(path)
    sock.close()


def test_messages_reach_the_socket(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    dog = Watchdog({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000"})
    assert dog.ready() and dog.ping() and dog.stopping()
    assert [sock.recv(64) for _ in range(3)] == [b"READY=1", b"WATCHDOG=1", b"STOPPING=1"]


def test_abstract_socket_names_are_understood() -> None:
    name = f"kiosk-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        assert notify("WATCHDOG=1", {"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(64) == b"WATCHDOG=1"


def test_start_schedules_pings_at_a_third_of_the_period(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    scheduled: list[tuple[Any, float]] = []
    dog = Watchdog({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000"})
    events = dog.start(lambda callback, interval: scheduled.append((callback, interval)) or "ev")
    assert events == ["ev"] and scheduled[0][1] == 30 / PINGS_PER_PERIOD
    scheduled[0][0](0.016)  # the main loop calls it with dt
    assert [sock.recv(64) for _ in range(3)] == [b"READY=1", b"WATCHDOG=1", b"WATCHDOG=1"]


def test_no_systemd_means_no_op() -> None:
    dog = Watchdog({})
    assert dog.ready() is False and dog.ping() is False and dog.interval is None
    assert dog.start(lambda *_a: pytest.fail("nothing to schedule")) == []
    assert notify("READY=1", {"NOTIFY_SOCKET": "relative/path"}) is False


def test_watchdog_for_an_unrelated_process_is_ignored() -> None:
    assert ping_interval({"WATCHDOG_USEC": "9000000"}) == 3.0
    assert ping_interval({"WATCHDOG_USEC": "9000000", "WATCHDOG_PID": str(os.getpid())}) == 3.0
    parent = {"WATCHDOG_USEC": "9000000", "WATCHDOG_PID": str(os.getppid())}
    assert ping_interval(parent) == 3.0  # cage is the unit's main process, the kiosk its child
    assert ping_interval({"WATCHDOG_USEC": "9000000", "WATCHDOG_PID": "999999999"}) is None
    assert ping_interval({"WATCHDOG_USEC": "0"}) is None


def test_a_vanished_socket_does_not_raise(tmp_path: Path) -> None:
    assert notify("WATCHDOG=1", {"NOTIFY_SOCKET": str(tmp_path / "gone")}) is False


def test_a_reader_that_stops_reading_never_blocks_the_pings(
    notify_socket: tuple[socket.socket, str],
) -> None:
    # Nobody reads: the socket's queue fills (10 datagrams by default on Linux). A blocking
    # send would then wait for ever on the UI thread (a CI self-test run hung exactly so).
    _sock, path = notify_socket
    env = {"NOTIFY_SOCKET": path}
    answers: list[bool] = []
    sender = threading.Thread(
        target=lambda: answers.extend(notify("WATCHDOG=1", env) for _ in range(200)),
        daemon=True,
    )
    sender.start()
    sender.join(30)
    assert not sender.is_alive(), "a ping blocked on a full socket"
    assert answers[0] and not answers[-1]  # delivered while there was room, then dropped
