"""The crash guard logs type and place only, counts crashes durably, and gives up on a loop."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from kiosk_core_helpers import Clock

from kiosk.crash import CrashGuard, count_crash, crash_stats, describe
from kiosk.services import Kiosk


def _raise_with_typed_text() -> None:
    typed = "Zorblina"
    int(typed)  # ValueError: invalid literal for int() with base 10: 'Zorblina'


def test_describe_names_type_and_place_never_the_message() -> None:
    with pytest.raises(ValueError) as caught:
        _raise_with_typed_text()
    assert "Zorblina" in str(caught.value)  # the check below can fail
    text = describe(caught.value)
    assert text.startswith("ValueError at kiosk/test_kiosk_crash.py:")
    assert text.endswith("in _raise_with_typed_text")
    assert "Zorblina" not in text


def test_crashes_are_counted_in_the_database(kiosk: Kiosk, clock: Clock) -> None:
    assert count_crash(kiosk) == 1
    clock.advance(minutes=3)
    assert count_crash(kiosk) == 2
    with kiosk.db.read_session() as session:
        stats = crash_stats(session=session)
    assert stats.count == 2 and stats.last_crash_at == clock.now


def test_guard_recovers_then_gives_up_on_a_crash_loop(caplog: Any) -> None:
    clock = Clock()
    counted: list[int] = []
    recovered: list[int] = []
    guard = CrashGuard(
        record=lambda: counted.append(1) or len(counted),
        recover=lambda: recovered.append(1),
        max_crashes=3,
        window_seconds=60,
        monotonic=clock.monotonic,
    )
    caplog.set_level(logging.INFO)
    for _ in range(3):
        assert guard.handle(RuntimeError("Quaxtermont")) is True
        clock.advance(seconds=5)
    assert guard.handle(RuntimeError("Quaxtermont")) is False  # 4 within a minute: a loop
    assert len(counted) == 4 and len(recovered) == 3
    clock.advance(seconds=120)
    assert guard.handle(RuntimeError("Quaxtermont")) is True  # the window moved on
    assert guard.handle(KeyboardInterrupt()) is False  # Ctrl-C is not a crash
    assert "Quaxtermont" not in caplog.text


def test_guard_keeps_recovering_when_the_count_cannot_be_written() -> None:
    def broken_disk() -> int:
        raise OSError("disk full")

    recovered: list[int] = []
    guard = CrashGuard(record=broken_disk, recover=lambda: recovered.append(1))
    assert guard.handle(RuntimeError()) is True and recovered == [1]


def test_a_dying_thread_is_counted_and_logged_without_its_message(caplog: Any) -> None:
    counted: list[int] = []
    guard = CrashGuard(record=lambda: counted.append(1) or 1, recover=lambda: None)
    caplog.set_level(logging.INFO)
    previous = threading.excepthook
    threading.excepthook = guard.thread_hook
    try:
        worker = threading.Thread(target=_raise_with_typed_text, name="speech")
        worker.start()
        worker.join()
    finally:
        threading.excepthook = previous
    assert counted == [1]
    assert "ValueError at kiosk/test_kiosk_crash.py" in caplog.text
    assert "thread speech" in caplog.text and "Zorblina" not in caplog.text
