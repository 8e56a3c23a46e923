"""Benchmark the kiosk app: start-up, tap to frame, commit latency, memory over sessions.

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python bench/kiosk.py [--sessions 1000]

Prints progress lines, then one JSON object on the last line. Targets on the 2-core CI
machine: start <= 2 s, tap to frame <= 50 ms median, commit p99 <= 20 ms, screen change to
the first audio sample of speech p95 <= 300 ms, frame time p99 while speaking <= 50 ms, RSS
growth <= 5 MB over 1,000 sessions (measured after TextInput's 60 s label cache has expired).
Everything runs the real app (KioskApp) on a real Kiosk with the demo seed in a temporary
directory; synthetic people only.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kivy_env import configure_kivy  # noqa: E402  (bench/, the script's folder)


def _kivy_env() -> None:
    """Configure Kivy as the tests do, in KIVY_HOME if set, else in a new temporary home."""
    configure_kivy(os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="kivyhome-bench-")))


def _open_kiosk(data_dir: Path) -> Any:
    from kiosk.config import KioskSettings
    from kiosk.services import Kiosk

    return Kiosk.open(
        KioskSettings(data_dir=data_dir, demo=True, server_url="https://clinic.example.test")
    )


def rss_mb() -> float:
    """Return this process's resident set size in MB (Linux /proc)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


# --- cold start ----------------------------------------------------------------------------
def child_start(data_dir: str) -> None:
    """Run the app until its first frame is on screen, say so, and quit (child process)."""
    _kivy_env()
    from kivy.clock import Clock
    from kivy.core.window import Window

    from kiosk.app import KioskApp

    kiosk = _open_kiosk(Path(data_dir))
    app = KioskApp(kiosk, start_sync=False)

    def first_frame(*_args: Any) -> None:
        Window.unbind(on_flip=first_frame)
        print("FIRST_FRAME", flush=True)
        Clock.schedule_once(lambda _dt: app.exit_kiosk(), 0)

    # Bound once the app has started, so the frame counted is one with the screens on it.
    app.bind(on_start=lambda *_a: Window.bind(on_flip=first_frame))
    app.run()
    kiosk.close()


def cold_start_seconds(runs: int) -> list[float]:
    """Launch the app `runs` times in fresh processes; return seconds to the first frame."""
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="kiosk-bench-start-") as data_dir:
            started = time.perf_counter()
            child = subprocess.Popen(
                [sys.executable, __file__, "--child-start", data_dir],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            assert child.stdout is not None
            for line in child.stdout:
                if line.strip() == "FIRST_FRAME":
                    times.append(time.perf_counter() - started)
                    break
            child.wait(timeout=60)
    return times


# --- speech ------------------------------------------------------------------------------
def speech_start_ms(driver: Any, rounds: int) -> list[float]:
    """Time from a screen change to the first audio sample of what the kiosk says.

    Frames are paced at 60 per second as on the kiosk (the screen is read two frames after
    the change, once its fields have the focus); the engine is the real espeak-ng.
    """
    from kiosk import speech

    access = driver.app.access
    access.speaker.close()
    access.speaker = speech.Speaker(player=None)
    samples = []
    names = ["checkin", "questions", "rate", "welcome"]
    for i in range(rounds):
        access.speech_on = True
        name = names[i % len(names)]
        if driver.app.manager.current == name:
            name = "welcome" if name != "welcome" else "rate"
        started = time.perf_counter()
        driver.app.show(name)
        first = None
        deadline = started + 5
        while first is None and time.perf_counter() < deadline:
            driver.frames(1)
            time.sleep(1 / 60)
            heard = [
                u.first_audio_at
                for u in list(access.speaker.log)
                if u.requested_at >= started and u.first_audio_at is not None
            ]
            first = min(heard) if heard else None
        if first is not None:
            samples.append((first - started) * 1000)
        access.speaker.wait_idle(10)
    return samples


def frame_ms_while_speaking(
    driver: Any, frames: int, *, speaking: bool = True
) -> tuple[list[float], list[float]]:
    """Frame times (60 fps pacing) while the kiosk speaks, with a screen change every second.

    Returns all frames, and those not drawing a screen change (the frame that lays a new
    screen out costs about a tap-to-frame whether speech is on or not; the rest show what
    speaking costs the UI). With `speaking` False the same loop runs silent, as a baseline.
    """
    access = driver.app.access
    access.speech_on = speaking
    times = []
    steady = []
    names = ["checkin", "questions", "rate", "welcome"]
    for i in range(frames):
        change = i % 60 == 0
        if change:
            driver.app.show(names[(i // 60) % len(names)])
        started = time.perf_counter()
        driver.frames(1)
        driver.glFinish()
        times.append((time.perf_counter() - started) * 1000)
        if not change:
            steady.append(times[-1])
        time.sleep(max(0.0, 1 / 60 - times[-1] / 1000))
    access.speech_on = False
    access.speaker.stop()
    return times, steady


# --- in-process measurements ---------------------------------------------------------------
class Driver:
    """Run the real app in this process and tap it like the UI tests do."""

    def __init__(self, data_dir: Path) -> None:
        from kivy.base import EventLoop, runTouchApp
        from kivy.config import Config
        from kivy.core.window import Window
        from kivy.graphics.opengl import glFinish
        from kivy.tests.common import UnitTestTouch

        from kiosk.app import SCREENS, KioskApp

        Config.set("graphics", "maxfps", "0")
        self.EventLoop, self.Window, self.glFinish = EventLoop, Window, glFinish
        self.Touch = UnitTestTouch
        if os.environ.get("SDL_VIDEODRIVER") == "offscreen":
            Window.bind(on_flip=lambda *a: glFinish())
        self.kiosk = _open_kiosk(data_dir)
        self.app = KioskApp(self.kiosk, start_sync=False)
        # The script taps as fast as frames go (as the UI tests and bench/patient.py): the
        # guard that drops a tap right after a screen change would drop every scripted tap.
        self.app.settle_seconds = 0
        self.app._run_prepare()
        runTouchApp(embedded=True)
        self.frames(3)
        # Screens other than the welcome are built one per frame after start: let them be.
        while len(self.app.manager.screens) < len(SCREENS):
            self.frames(1)

    def frames(self, count: int = 1) -> None:
        for _ in range(count):
            self.EventLoop.idle()

    def tap(self, widget: Any, frames: int = 1) -> None:
        touch = self.Touch(*widget.to_window(*widget.center))
        touch.touch_down()
        touch.touch_up()
        self.frames(frames)

    def type(self, text: str) -> None:
        for ch in text:
            self.Window.dispatch("on_textinput", ch)

    def screen(self) -> Any:
        return self.app.manager.current_screen

    def expect(self, name: str) -> Any:
        current = self.app.manager.current_screen
        if current.name != name:
            raise RuntimeError(f"bench script lost: on {current.name}, expected {name}")
        return current

    def tap_to_frame_ms(self, rounds: int) -> list[float]:
        """Time a tap on Check in until the check-in screen's frame is finished."""
        samples = []
        for _ in range(rounds):
            self.app.end_session()
            self.frames(2)
            button = self.screen().ids.check_in
            touch = self.Touch(*button.to_window(*button.center))
            started = time.perf_counter()
            touch.touch_down()
            touch.touch_up()
            self.EventLoop.idle()  # lays out and draws the new screen, then flips
            self.glFinish()
            samples.append((time.perf_counter() - started) * 1000)
            assert self.app.manager.current == "checkin"
        return samples

    # -- scripted patients
    def session_check_in(self, last_name: str, dob: date) -> None:
        self.tap(self.expect("welcome").ids.check_in)
        checkin = self.expect("checkin")
        self.tap(checkin.ids.last_name)
        self.type(last_name)
        checkin.ids.last_name.focus = False
        checkin.ids.dob.set_value(dob)
        self.tap(checkin.ids.next)
        self.tap(self.expect("confirm").ids.yes)
        self.tap(self.expect("contact").ids.skip)
        self.tap(self.expect("receipt").ids.done)

    def session_question(self, text: str) -> None:
        self.tap(self.expect("welcome").ids.ask)
        self.tap(self.expect("questions").ids.ask_staff)
        ask = self.expect("ask")
        self.tap(ask.ids.question)
        self.type(text)
        ask.ids.question.focus = False
        self.tap(ask.ids.send)
        self.tap(self.expect("receipt").ids.done)

    def session_rating(self, face: int) -> None:
        self.tap(self.expect("welcome").ids.rate)
        self.tap(self.expect("rate").face(face))
        self.tap(self.expect("rate_details").ids.skip)
        self.tap(self.expect("receipt").ids.done)

    def session_walk_away(self, last_name: str) -> None:
        """A patient types a name and leaves: the idle reset clears it."""
        self.tap(self.screen().ids.check_in)
        checkin = self.screen()
        self.tap(checkin.ids.last_name)
        self.type(last_name)
        self.app.end_session()  # what the idle timer does when the countdown ends
        self.frames(1)


def _letters(number: int, width: int = 4) -> str:
    """Spell a number in letters (a..z), so each synthetic name is unique."""
    out = ""
    for _ in range(width):
        number, digit = divmod(number, 26)
        out = chr(ord("a") + digit) + out
    return out


def seed_named_appointments(kiosk: Any, count: int) -> list[tuple[str, date]]:
    """Add in-window appointments for synthetic people the bench can type; return them."""
    from kiosk.models import Appointment
    from kiosk.state import StateKey, get_state
    from sync.protocol import MatchKdf, derive_match_secret

    with kiosk.db.read_session() as session:
        raw = get_state(StateKey.MATCH_KDF, session=session)
    assert raw, "the demo seed stores today's match-key salt"
    kdf = MatchKdf.model_validate_json(raw)
    now = kiosk.now().replace(microsecond=0)
    people = []
    with kiosk.db.write() as session:
        for i in range(count):
            last_name = "Bench" + _letters(i)  # names are letters only
            dob = date(1950, 1, 1) + timedelta(days=i * 7)
            session.add(
                Appointment(
                    ref=f"bench-ui-{i}",
                    match_key=derive_match_secret(kdf, last_name, dob).match_key,
                    phone_key=None,
                    starts_at=now,
                    first_initial="B",
                    clinician="Dr. Bench",
                )
            )
            people.append((last_name, dob))
    return people


def run_session(driver: Driver, i: int, people: list[tuple[str, date]]) -> None:
    """Play patient number i: check in, ask, rate, or type and walk away, in turn."""
    kind = i % 4
    if kind == 0:
        driver.session_check_in(*people[i])
    elif kind == 1:
        driver.session_question(f"Bench question number {i} about parking?")
    elif kind == 2:
        driver.session_rating(1 + i % 5)
    else:
        driver.session_walk_away("Walkaway" + _letters(i))


def commit_latency_ms(kiosk: Any, count: int) -> list[float]:
    """Time check_in() (validate + one transaction + COMMIT) on fresh appointments."""
    from kiosk.demo import seed_bench_appointments

    refs = seed_bench_appointments(kiosk, count, prefix="bench-commit")
    samples = []
    for ref in refs:
        started = time.perf_counter()
        kiosk.check_in(ref, "en")
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child-start", metavar="DATA_DIR")
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--taps", type=int, default=200)
    parser.add_argument("--commits", type=int, default=500)
    parser.add_argument("--speech-rounds", type=int, default=40)
    parser.add_argument("--speaking-frames", type=int, default=600)
    parser.add_argument(
        "--cache-wait",
        type=float,
        default=65.0,
        help="seconds to let TextInput's 60 s label cache expire",
    )
    args = parser.parse_args()
    if args.child_start:
        child_start(args.child_start)
        return

    starts = cold_start_seconds(args.starts)
    print(f"cold start to first frame: {[round(s, 3) for s in starts]}", flush=True)

    _kivy_env()
    from kivy.cache import Cache

    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as data_dir:
        driver = Driver(Path(data_dir))
        taps = driver.tap_to_frame_ms(args.taps)
        print(f"tap to frame: median {statistics.median(taps):.1f} ms", flush=True)
        speech_starts = speech_start_ms(driver, args.speech_rounds)
        print(f"speech start: p95 {percentile(speech_starts, 95):.0f} ms", flush=True)
        speaking_frames, speaking_steady = frame_ms_while_speaking(driver, args.speaking_frames)
        print(f"frame while speaking: p99 {percentile(speaking_frames, 99):.1f} ms", flush=True)
        silent_frames, silent_steady = frame_ms_while_speaking(
            driver, args.speaking_frames, speaking=False
        )
        print(f"same frames silent: p99 {percentile(silent_frames, 99):.1f} ms", flush=True)
        load_average = os.getloadavg()[0]
        driver.app.end_session()
        time.sleep(driver.app.settle_seconds + 0.05)  # taps right after a screen change drop

        warm_up = 40
        people = seed_named_appointments(driver.kiosk, args.sessions + warm_up)
        # Warm up (first use of each screen builds its textures and caches), then measure.
        driver.app.end_session()
        driver.frames(2)
        for i in range(warm_up):
            run_session(driver, args.sessions + i, people)
        driver.app.end_session()
        driver.frames(3)
        gc.collect()
        rss_start = rss_mb()
        started = time.perf_counter()
        for i in range(args.sessions):
            run_session(driver, i, people)
            if (i + 1) % 250 == 0:
                print(f"  {i + 1} sessions, RSS {rss_mb():.1f} MB", flush=True)
        session_seconds = time.perf_counter() - started
        gc.collect()
        rss_after_sessions = rss_mb()
        waited_until = time.monotonic() + args.cache_wait
        while time.monotonic() < waited_until:  # idle kiosk: frames keep coming
            driver.frames(1)
            time.sleep(0.05)
        Cache.print_usage() if os.environ.get("BENCH_DEBUG") else None
        gc.collect()
        rss_end = rss_mb()

        commits = commit_latency_ms(driver.kiosk, args.commits)
        driver.app.stop()
        driver.kiosk.close()

    result = {
        "cold_start_s_median": round(statistics.median(starts), 3),
        "cold_start_s_runs": [round(s, 3) for s in starts],
        "tap_to_frame_ms_median": round(statistics.median(taps), 1),
        "tap_to_frame_ms_p95": round(percentile(taps, 95), 1),
        "commit_ms_p50": round(percentile(commits, 50), 2),
        "commit_ms_p99": round(percentile(commits, 99), 2),
        "speech_start_ms_p95": round(percentile(speech_starts, 95), 1),
        "speech_start_ms_median": round(statistics.median(speech_starts), 1),
        "frame_ms_p99_speaking": round(percentile(speaking_frames, 99), 1),
        "frame_ms_p99_speaking_without_screen_changes": round(percentile(speaking_steady, 99), 1),
        "frame_ms_p99_silent": round(percentile(silent_frames, 99), 1),
        "frame_ms_p99_silent_without_screen_changes": round(percentile(silent_steady, 99), 1),
        "speech_rounds": len(speech_starts),
        "load_average_1m_during_speech": round(load_average, 2),
        "sessions": args.sessions,
        "sessions_seconds": round(session_seconds, 1),
        "rss_mb_start": round(rss_start, 1),
        "rss_mb_after_sessions": round(rss_after_sessions, 1),
        "rss_mb_after_cache_expiry": round(rss_end, 1),
        "rss_growth_mb": round(rss_end - rss_start, 1),
        "targets_met": {
            "start_le_2s": statistics.median(starts) <= 2.0,
            "tap_to_frame_median_le_50ms": statistics.median(taps) <= 50.0,
            "commit_p99_le_20ms": percentile(commits, 99) <= 20.0,
            "rss_growth_le_5mb": rss_end - rss_start <= 5.0,
            "speech_start_p95_le_300ms": percentile(speech_starts, 95) <= 300.0,
            "frame_p99_speaking_le_50ms": percentile(speaking_frames, 99) <= 50.0,
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
