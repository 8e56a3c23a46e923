"""A kiosk that heals itself: an exception in a screen callback ends the session, not the app.

The exception is raised inside a real button's callback, dispatched by Kivy's own main loop
(`EventLoop.mainloop`, the loop `runTouchApp` runs on a kiosk), so it reaches Kivy's
ExceptionManager exactly as in production. The kiosk is paired with a real clinic server
process; the server's database must show the crash count from the next heartbeat.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sync"))
from serverproc import ServerProcess  # noqa: E402 - tests/sync holds the process helper

pytestmark = pytest.mark.ui

SECRET = "Zorblina Quaxtermont"  # what the patient typed; must never reach the log


def run_main_loop_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Run Kivy's real main loop (with its exception manager) until `condition()` holds."""
    from kivy.base import EventLoop
    from kivy.clock import Clock

    deadline = time.monotonic() + timeout

    def check(_dt: float) -> None:
        if condition() or time.monotonic() > deadline:
            EventLoop.quit = True

    event = Clock.schedule_interval(check, 0)
    try:
        EventLoop.mainloop()
    finally:
        event.cancel()
        EventLoop.quit = False
    assert condition(), f"condition not met within {timeout:.1f} s"


def press_in_loop(widget: Any) -> None:
    """Schedule a finger press on `widget` for the main loop's next frame."""
    from kivy.clock import Clock
    from kivy.tests.common import UnitTestTouch

    def press(_dt: float) -> None:
        touch = UnitTestTouch(*widget.to_window(*widget.center))
        touch.touch_down()
        touch.touch_up()

    Clock.schedule_once(press, 0)


def server_kiosk_row(server: ServerProcess) -> tuple[int, str | None] | None:
    """Return (crash_count, last_crash_at) of the one paired kiosk, as the server stored it."""
    with sqlite3.connect(server.db_path) as conn:
        row = conn.execute(
            "SELECT crash_count, last_crash_at FROM kiosks WHERE last_heartbeat_at IS NOT NULL"
        ).fetchone()
    return None if row is None else (int(row[0]), row[1])


@pytest.fixture
def paired(ui: Any, kiosk: Any, tmp_path: Path) -> Iterator[ServerProcess]:
    """Pair the running kiosk with a real server (fast heartbeats); unpair and reseed after."""
    from kiosk import state, syncing
    from kiosk.demo import seed_demo
    from kiosk.state import StateKey

    server = ServerProcess(tmp_path / "clinic")
    server.migrate()
    server.start()
    fast = syncing.worker_settings(kiosk, heartbeat_interval=0.5, poll_interval=0.05)
    syncing.stop_sync(kiosk)
    syncing.start_sync(kiosk, settings=fast, purge_interval=None)
    done = threading.Event()
    answers: list[str | None] = []
    syncing.request_pairing(
        kiosk, server.url, server.pairing_code(), lambda msg: (answers.append(msg), done.set())
    )
    assert done.wait(20) and answers == [None], answers
    try:
        yield server
    finally:
        syncing.stop_sync(kiosk)
        with kiosk.db.write() as session:  # back to the unpaired demo kiosk
            for key in StateKey:
                if key not in (StateKey.LOCAL_KEY, StateKey.DEMO_DATA):
                    state.set_state(key, None, session=session)
        syncing.start_sync(kiosk, purge_interval=None)
        seed_demo(kiosk)  # the server's pull replaced the demo day; later tests need it
        ui.app.apply_clinic_info()
        server.close()


def test_exception_in_a_screen_callback_returns_to_welcome_and_is_reported(
    ui: Any, kiosk: Any, paired: ServerProcess, monkeypatch: Any, caplog: Any
) -> None:
    from kiosk.crash import crash_stats

    with kiosk.db.read_session() as session:
        before = crash_stats(session=session).count
    deadline = time.monotonic() + 20
    while server_kiosk_row(paired) is None:  # the first heartbeat arrived
        assert time.monotonic() < deadline, "no heartbeat reached the server"
        time.sleep(0.1)

    ui.tap(ui.app.screen("welcome").ids.ask)
    ui.tap(ui.app.screen("questions").ids.ask_staff)
    ask = ui.app.screen("ask")
    assert ui.app.manager.current == "ask"
    ui.tap(ask.ids.question)
    ui.type_text(SECRET)
    assert ask.question == SECRET

    def broken(text: str, *_args: Any, **_kwargs: Any) -> Any:
        raise ValueError(f"cannot store {text!r}")  # a message holding the typed text

    monkeypatch.setattr(kiosk, "ask_question", broken)
    caplog.set_level(logging.INFO)
    press_in_loop(ask.ids.send)
    run_main_loop_until(lambda: ui.app.manager.current == "welcome")

    # The app is still up, on the welcome screen, and the patient's text is gone.
    assert ui.app.manager.current == "welcome"
    assert ask.question == ""
    assert ask.ids.question.text == ""
    ui.pump(2)
    assert ui.app.root.get_root_window() is not None
    ui.screenshot("crash-recovered-welcome")

    # Logged: type and place; never the message with what the patient typed.
    crash_logs = [r.getMessage() for r in caplog.records if r.name == "kiosk.crash"]
    # The place is the innermost frame of the kiosk's own code: the screen's handler.
    assert any(re.search(r"ValueError at screens/\w+\.py:\d+ in \w+", x) for x in crash_logs)
    assert all("Zorblina" not in r.getMessage() for r in caplog.records)
    assert all(r.exc_info is None for r in caplog.records if r.name == "kiosk.crash")

    with kiosk.db.read_session() as session:
        stats = crash_stats(session=session)
    assert stats.count == before + 1 and stats.last_crash_at is not None

    # The next heartbeat carries the count to the real server.
    deadline = time.monotonic() + 20
    while (row := server_kiosk_row(paired)) is None or row[0] != before + 1:
        assert time.monotonic() < deadline, f"server still has {row}"
        time.sleep(0.1)
    assert row[1] is not None

    # The kiosk keeps working: the next patient's tap goes through the usual handlers.
    monkeypatch.undo()
    ui.tap(ui.app.screen("welcome").ids.ask)
    assert ui.app.manager.current == "questions"
