"""Drive the real kiosk app in a real window (Xvfb, or SDL's offscreen driver).

Set up per /work/shared/TESTING.md: Kivy must not parse argv or write ~/.kivy, frames are
not throttled, no real input devices, and offscreen rendering is flushed every frame. With
REQUIRE_UI=1 a window that cannot be created FAILS the run instead of skipping it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

os.environ["KIVY_NO_ARGS"] = "1"
_home = tempfile.mkdtemp(prefix="kivyhome-")
atexit.register(shutil.rmtree, _home, ignore_errors=True)
os.environ["KIVY_HOME"] = _home
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
os.environ.setdefault("KIVY_NO_FILELOG", "1")
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")

import pytest  # noqa: E402
from kivy.config import Config  # noqa: E402

from kiosk.app import configure_kiosk_mode  # noqa: E402

Config.set("graphics", "width", "800")
Config.set("graphics", "height", "480")
Config.set("graphics", "maxfps", "0")
configure_kiosk_mode()
for _key, _ in Config.items("input"):
    Config.remove_option("input", _key)

REQUIRE_UI = os.environ.get("REQUIRE_UI") == "1"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

try:
    from kivy.base import EventLoop, runTouchApp
    from kivy.core.window import Window
    from kivy.graphics.opengl import glFinish
    from kivy.tests.common import UnitTestTouch

    _WINDOW_ERROR = None if Window is not None else "Kivy could not create a window"
except Exception as exc:  # pragma: no cover - depends on the machine
    _WINDOW_ERROR = f"Kivy could not create a window: {exc!r}"

if _WINDOW_ERROR is None and os.environ.get("SDL_VIDEODRIVER") == "offscreen":
    Window.bind(on_flip=lambda *a: glFinish())  # else memory grows with every frame


# --- driving the window ------------------------------------------------------------------
def pump(frames: int = 2) -> None:
    """Run a few frames of the event loop."""
    for _ in range(frames):
        EventLoop.idle()


def pump_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Run frames until `condition()` holds, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout:.1f} s")
        EventLoop.idle()
        time.sleep(0.01)


def _kiosk_keyboard() -> Any:
    from kivy.app import App

    return App.get_running_app().keyboard


def _is_inside(widget: Any, ancestor: Any) -> bool:
    node = widget
    while node is not None:
        if node is ancestor:
            return True
        node = node.parent if node.parent is not node else None
    return False


def _visible_in_form(widget: Any, x: float, y: float) -> None:
    """Fail if the point is clipped away by the FormArea the widget sits in."""
    from screens.widgets import FormArea

    node = widget.parent
    while node is not None and node is not node.parent:
        if isinstance(node, FormArea):
            assert node.collide_point(*node.to_widget(x, y)), f"{widget!r} is hidden in its form"
            return
        node = node.parent


def tap(widget: Any, times: int = 1) -> None:
    """Touch a widget at its centre through the Window, like a finger (`times` quick taps
    in a row, as a finger does them: no frame drawn between, so a slow frame on a loaded
    machine does not stretch a gesture such as the staff corner's 5 taps in 3 s)."""
    assert widget.get_root_window() is not None, f"{widget!r} is not on screen"
    x, y = widget.to_window(*widget.center)
    assert 0 <= x <= Window.width and 0 <= y <= Window.height, f"{widget!r} is off screen"
    board = _kiosk_keyboard()
    covered = board is not None and board.visible and not _is_inside(widget, board)
    if covered and board.collide_point(*board.to_widget(x, y)):
        raise AssertionError(f"{widget!r} is under the on-screen keyboard")
    _visible_in_form(widget, x, y)
    for _ in range(times):
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()
    pump(1)


#: The counts of the last typing by taps (keys of the kiosk keyboard).
KEY_TAPS: list[str] = []


def _place_of(board: Any, char: str) -> tuple[int, str] | None:
    """Return which layout of the language (the one shown first) and which page type `char`."""
    from kiosk.keyboard_layouts import layouts_for, page_of

    input_type = getattr(board.target, "input_type", "text")
    shown = int(board.layout_index)
    if board.mode == "digits":
        return shown, "digits"
    offered = layouts_for(board.lang)
    for index in [shown, *(i for i in range(len(offered)) if i != shown)]:
        page = page_of(offered[index], char, input_type)
        if page is not None:
            return index, page
    return None


def tap_key(key: str) -> None:
    """Tap one key of the kiosk keyboard by its name ("a", "shift", "enter"...)."""
    board = _kiosk_keyboard()
    assert board.visible, "the kiosk keyboard is not up"
    button = board.key_for(key)
    assert button is not None, f"no key {key!r} on the {board.mode} page"
    KEY_TAPS.append(key)
    tap(button)


def type_text(text: str) -> None:
    """Type by tapping the keys of the kiosk keyboard: scripts, pages, Shift and all."""
    board = _kiosk_keyboard()
    for ch in text:
        key = "space" if ch == " " else ch
        lower = key if key == "space" else ch.lower()
        place = _place_of(board, lower)
        assert place is not None, f"{ch!r} is not on the keyboard"
        index, page = place
        if index != board.layout_index:  # the other script's letters (Latin <-> Cyrillic)
            if board.mode != "letters":
                tap_key("letters")
            tap_key("switch")
        if page != board.mode:
            if board.mode != "letters":
                tap_key("letters")
            if page != "letters":
                tap_key(page)
        if key != "space" and ch != lower and not board.shift:
            tap_key("shift")
        elif key != "space" and ch == lower and ch.upper() != ch and board.shift:
            tap_key("shift")  # an auto-capital not wanted
        tap_key(lower)
    pump(1)


def press_enter() -> None:
    """Tap Enter on the kiosk keyboard (Next, or the screen's action on the last field)."""
    board = _kiosk_keyboard()
    if board is not None and board.visible:
        tap_key("enter")
    else:
        Window.dispatch("on_key_down", 13, 40, "\r", [])
        Window.dispatch("on_key_up", 13, 40)
    pump(2)


def choose(spinner: Any, text: str) -> None:
    """Open a spinner and tap one of its options (scrolling the list to it first)."""
    tap(spinner)
    pump_until(lambda: spinner.is_open)
    dropdown = spinner._dropdown
    option = next(b for b in dropdown.container.children if b.text == text)
    dropdown.scroll_to(option, animate=False)
    pump(3)
    tap(option)
    # The list lingers for DropDown.min_state_time and swallows taps until it is gone.
    pump_until(lambda: not spinner.is_open and dropdown.parent is None)
    assert spinner.text == text


def screenshot(name: str) -> Path:
    """Save the whole window (docked keyboard included) as artifacts/screenshots/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pump(2)
    saved = Path(Window.screenshot(str(ARTIFACTS / f"{name}.png")))
    target = ARTIFACTS / f"{name}.png"
    saved.replace(target)  # Window.screenshot numbers the file; keep a stable name
    assert_not_blank(target)
    return target


def assert_not_blank(path: Path) -> None:
    """Fail if a PNG is a flat or nearly flat image (taken before anything was drawn)."""
    from PIL import Image, ImageStat

    with Image.open(path) as image:
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 16)
        stddev = max(ImageStat.Stat(rgb).stddev)
    assert colours is None or len(colours) >= 8, f"{path.name}: only {len(colours)} colours"
    assert stddev > 10, f"{path.name}: almost uniform (stddev {stddev:.1f})"


def visible_texts(root: Any) -> list[str]:
    """Return the texts of every label-like widget shown under `root`."""
    return [
        w.text
        for w in root.walk(restrict=True)
        if isinstance(getattr(w, "text", None), str) and w.text and w.opacity > 0
    ]


# --- the app -------------------------------------------------------------------------------
# One real Kiosk and one running app per test module, as on a real kiosk where one app serves
# patient after patient: every test starts from the welcome screen after the same reset a
# patient's session ends with. Database assertions compare counts before and after. Each
# module starts a fresh kiosk (new database, new app in the same window), so no module
# depends on what another left behind and modules can run in any order or in parallel.
#: The kiosk's clock starts on a clinic morning and runs on in real time, so the demo day
#: (appointments relative to "now", kept inside the clinic day) is the same whatever the
#: wall clock, time zone or date the suite runs at. Override with UI_CLOCK_START (ISO 8601).
CLOCK_START = datetime.fromisoformat(os.environ.get("UI_CLOCK_START", "2026-12-02T10:00:00+00:00"))


class RunningClock:
    """A wall clock that starts at a fixed moment and advances with time.monotonic()."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._t0 = time.monotonic()

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0)

    def advance(self, seconds: float) -> None:
        """Move the clock forward (a patient who comes a while after the last one)."""
        self._start += timedelta(seconds=seconds)


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real Kiosk on a fresh SQLite file, seeded with the demo people."""
    from kiosk.config import KioskSettings
    from kiosk.services import Kiosk

    settings = KioskSettings(
        data_dir=tmp_path_factory.mktemp("kiosk"),
        demo=True,
        server_url="https://clinic.example.test",
    )
    real = Kiosk.open(settings, clock=RunningClock(CLOCK_START))
    yield real
    real.close()


@pytest.fixture(scope="module")
def kiosk_app(kiosk: Any) -> Iterator[Any]:
    """The real KioskApp around the real Kiosk, started in the shared window."""
    if _WINDOW_ERROR is not None:
        if REQUIRE_UI:
            pytest.fail(f"REQUIRE_UI=1 but no window: {_WINDOW_ERROR}", pytrace=False)
        pytest.skip(_WINDOW_ERROR)
    from kiosk.app import KioskApp

    app = KioskApp(kiosk, start_sync=True)
    app._run_prepare()
    app.settle_seconds = 0  # the tests tap as fast as frames go (tests/ui/test_ui_once.py)
    runTouchApp(embedded=True)
    pump(3)
    yield app
    time.sleep(0.1)  # let buttons finish their delayed release (min_state_time) first
    pump(2)
    app.stop()
    pump(1)


@pytest.fixture
def ui(kiosk_app: Any) -> Iterator[Any]:
    """Start a test at the welcome screen; give it the helpers that drive the window."""
    from types import SimpleNamespace

    kiosk_app.end_session()
    pump(2)
    yield SimpleNamespace(
        app=kiosk_app,
        pump=pump,
        pump_until=pump_until,
        tap=tap,
        tap_key=tap_key,
        type_text=type_text,
        press_enter=press_enter,
        choose=choose,
        screenshot=screenshot,
        texts=visible_texts,
        window=Window,
    )
    kiosk_app.end_session()


#: The two sizes a patient screen must work at: the small landscape panel and the tablet.
WINDOW_SIZES = [(800, 480), (1280, 800)]


@contextmanager
def window_size(ui: Any, width: int, height: int) -> Iterator[Any]:
    """Run a block in a window of the given size (back to 800x480, session ended, after)."""
    ui.window.size = (width, height)
    ui.pump_until(lambda: tuple(ui.window.size) == (width, height))
    ui.pump(3)
    try:
        yield ui
    finally:
        ui.app.end_session()
        ui.window.size = (800, 480)
        ui.pump_until(lambda: tuple(ui.window.size) == (800, 480))
        ui.pump(3)


@pytest.fixture(params=WINDOW_SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def sized(request: pytest.FixtureRequest, ui: Any) -> Iterator[Any]:
    """Run a test at each of WINDOW_SIZES."""
    with window_size(ui, *request.param):
        yield ui


@pytest.fixture
def keys(ui: Any, tmp_path: Path) -> Iterator[Any]:
    """Drive the app by key events, with speech rendered to WAV files (tests/ui/a11y_keys.py)."""
    from a11y_keys import Keys

    from kiosk import speech

    access = ui.app.access
    saved = access.speaker
    access.speaker = speech.Speaker(player=None, wav_dir=tmp_path)
    yield Keys(ui, tmp_path)
    access.speaker.close()
    access.speaker = saved
    ui.app.end_session()
