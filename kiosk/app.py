"""The Kivy application: screens, language, theme, idle reset, sync status, kiosk mode.

The only kiosk module that imports Kivy. It holds no domain logic: screens call the
`kiosk` object (kiosk.facade.KioskFacade), and this class wires language, accessibility,
the "Still there?" countdown, the sync mark and the staff corner around them.
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import threading
from datetime import tzinfo
from importlib.resources import files
from pathlib import Path
from typing import Any

import kivy
from kivy.app import App
from kivy.base import ExceptionHandler, ExceptionManager
from kivy.cache import Cache
from kivy.clock import Clock
from kivy.config import Config
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    ListProperty,
    NumericProperty,
    StringProperty,
)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager

from kiosk import fonts, i18n, syncing
from kiosk.crash import CrashGuard, count_crash
from kiosk.facade import KioskFacade
from kiosk.idle import IdlePhase, IdleTimer, PatientSession
from kiosk.watchdog import Watchdog

log = logging.getLogger(__name__)

# A file inside the installed assets package (pip installs wheels unpacked on disk).
DEFAULT_LOGO = Path(str(files("assets").joinpath("logo.png")))
#: Kivy ships DejaVuSans, which has Arabic and Hebrew glyphs (Roboto shows boxes for them).
WIDE_FONT = os.path.join(kivy.kivy_data_dir, "fonts", "DejaVuSans.ttf")
LATIN_FONT = "Roboto"

#: Screen name -> (module, class). Each module loads its own kv file.
SCREENS: dict[str, tuple[str, str]] = {
    "welcome": ("screens.welcome", "WelcomeScreen"),
    "checkin": ("screens.checkin", "CheckInScreen"),
    "verify_phone": ("screens.verify_phone", "VerifyPhoneScreen"),
    "nomatch": ("screens.nomatch", "NoMatchScreen"),
    "confirm": ("screens.confirm", "ConfirmScreen"),
    "contact": ("screens.contact", "ContactScreen"),
    "walkin": ("screens.walkin", "WalkInScreen"),
    "frontdesk": ("screens.frontdesk", "FrontDeskScreen"),
    "receipt": ("screens.receipt", "ReceiptScreen"),
    "questions": ("screens.questions", "QuestionsScreen"),
    "ask": ("screens.ask", "AskScreen"),
    "rate": ("screens.rate", "RateScreen"),
    "rate_details": ("screens.rate_details", "RateDetailsScreen"),
    "admin_pin": ("screens.admin_pin", "AdminPinScreen"),
    "admin": ("screens.admin", "AdminScreen"),
}

THEMES: dict[str, dict[str, tuple[float, float, float, float]]] = {
    "standard": {
        "bg_color": (0.96, 0.97, 0.98, 1),
        "bar_color": (0.86, 0.90, 0.95, 1),
        "fg_color": (0.07, 0.08, 0.10, 1),
        "muted_color": (0.30, 0.33, 0.38, 1),
        "accent_color": (0.03, 0.31, 0.62, 1),
        "accent_text": (1, 1, 1, 1),
        "pressed_color": (0.02, 0.18, 0.40, 1),
        "panel_color": (0.84, 0.87, 0.91, 1),
        "input_bg": (1, 1, 1, 1),
        "alert_color": (0.72, 0.04, 0.04, 1),
        "alert_text": (1, 1, 1, 1),
        # Non-text contrast (WCAG 1.4.11): field and button edges 3:1 or more on the page.
        "field_border": (0.40, 0.44, 0.50, 1),
        "error_text": (0.66, 0.03, 0.03, 1),
        "key_tray": (0.24, 0.28, 0.34, 1),
        "key_color": (1, 1, 1, 1),
        "key_special": (0.80, 0.84, 0.89, 1),
        "card_color": (1, 1, 1, 1),
        # Placeholders: another hue and italic, never mistaken for what was typed.
        "hint_color": (0.22, 0.36, 0.56, 1),
        "dialog_edge": (0.07, 0.08, 0.10, 1),
    },
    # Same keys as "standard": a theme switch sets each colour it names, so a key missing
    # here would keep the other theme's value.
    "high_contrast": {
        "bg_color": (0, 0, 0, 1),
        "bar_color": (0.10, 0.10, 0.10, 1),
        "fg_color": (1, 1, 1, 1),
        "muted_color": (0.90, 0.90, 0.90, 1),
        "accent_color": (1, 0.86, 0, 1),
        "accent_text": (0, 0, 0, 1),
        "pressed_color": (1, 1, 1, 1),
        "panel_color": (0.22, 0.22, 0.22, 1),
        "input_bg": (0.13, 0.13, 0.13, 1),
        # White on this red is 8.9:1 (the banner was 5.3:1 on (0.85, 0, 0)).
        "alert_color": (0.60, 0, 0, 1),
        "alert_text": (1, 1, 1, 1),
        "field_border": (1, 1, 1, 1),
        "error_text": (1, 0.55, 0.55, 1),
        "key_tray": (0.30, 0.30, 0.30, 1),
        "key_color": (0.05, 0.05, 0.05, 1),
        "key_special": (0.18, 0.18, 0.18, 1),
        "card_color": (0.10, 0.10, 0.10, 1),
        "hint_color": (0.60, 0.85, 1, 1),
        "dialog_edge": (1, 0.86, 0, 1),
    },
}

LARGE_TEXT_SCALE = 1.3


def font_for(lang: str) -> str:
    """Return the font for a language (Kivy has no per-glyph fallback): kiosk.fonts."""
    if lang in (i18n.FALLBACK_LANGUAGE, "es"):
        return LATIN_FONT
    return fonts.font_file(lang) or WIDE_FONT


def input_font_for(lang: str) -> str:
    """Return the font of typed text: names may be in any script the language's allows."""
    return fonts.input_font_file(lang) or WIDE_FONT


def configure_kiosk_mode() -> None:
    """Set the Kivy options kiosk mode needs; call before the Window exists.

    Importing this module does not create the Window (Kivy widgets that do are imported
    late), so callers may import it first and configure next.
    """
    Config.set("kivy", "exit_on_escape", "0")
    # The patient screens type on the kiosk's own keyboard (screens/keyboard.py), docked in
    # the layout; "system" keeps Kivy's VKeyboard away and still accepts hardware keys.
    Config.set("kivy", "keyboard_mode", "system")
    Config.set("input", "mouse", "mouse,disable_multitouch")


class KioskApp(App):
    """The waiting-room kiosk."""

    title = "Kiosk"

    lang = StringProperty(i18n.FALLBACK_LANGUAGE)
    languages = ListProperty(["en"])
    default_language = StringProperty(i18n.FALLBACK_LANGUAGE)
    large_text = BooleanProperty(False)
    high_contrast = BooleanProperty(False)
    text_scale = NumericProperty(1.0)
    font_name = StringProperty(LATIN_FONT)
    is_rtl = BooleanProperty(False)  # the screens read right to left (kv rules may ask)
    screen_name = StringProperty("welcome")  # the screen shown now
    input_font = StringProperty(WIDE_FONT)  # names typed may be in any script
    key_font = StringProperty(WIDE_FONT)  # the keyboard's letters, arrows and accents
    clinic_name = StringProperty("")
    logo_source = StringProperty("")

    bg_color = ColorProperty(THEMES["standard"]["bg_color"])
    bar_color = ColorProperty(THEMES["standard"]["bar_color"])
    fg_color = ColorProperty(THEMES["standard"]["fg_color"])
    muted_color = ColorProperty(THEMES["standard"]["muted_color"])
    accent_color = ColorProperty(THEMES["standard"]["accent_color"])
    accent_text = ColorProperty(THEMES["standard"]["accent_text"])
    pressed_color = ColorProperty(THEMES["standard"]["pressed_color"])
    panel_color = ColorProperty(THEMES["standard"]["panel_color"])
    input_bg = ColorProperty(THEMES["standard"]["input_bg"])
    alert_color = ColorProperty(THEMES["standard"]["alert_color"])
    alert_text = ColorProperty(THEMES["standard"]["alert_text"])
    field_border = ColorProperty(THEMES["standard"]["field_border"])
    error_text = ColorProperty(THEMES["standard"]["error_text"])
    key_tray = ColorProperty(THEMES["standard"]["key_tray"])
    key_color = ColorProperty(THEMES["standard"]["key_color"])
    key_special = ColorProperty(THEMES["standard"]["key_special"])
    card_color = ColorProperty(THEMES["standard"]["card_color"])
    hint_color = ColorProperty(THEMES["standard"]["hint_color"])
    dialog_edge = ColorProperty(THEMES["standard"]["dialog_edge"])
    window_width = NumericProperty(800)
    window_height = NumericProperty(480)
    #: Seconds the receipt stays before the welcome screen comes back (kiosk setting).
    receipt_seconds = NumericProperty(20)
    receipt_seconds_left = NumericProperty(0)
    keyboard_visible = BooleanProperty(False)  # the kiosk keyboard is up (forms get smaller)
    #: Touches this soon after a screen change are ignored: the second tap of a double tap
    #: must not land on whatever the next screen has in the same place.
    settle_seconds = NumericProperty(0.35)

    sync_state = StringProperty("offline")  # "sent" | "waiting" | "offline"
    sync_pending = NumericProperty(0)
    idle_seconds_left = NumericProperty(0)
    admin_unlocked = BooleanProperty(False)

    access: Any  # screens.access.Access (keys, focus ring, speech), set by build()
    manager: ScreenManager  # set by build()
    top_bar: Any  # screens.widgets.TopBar, set by build()
    keyboard: Any  # screens.keyboard.KioskKeyboard, set by build()

    #: The sync mark is read again when the kiosk or its worker says it changed (a Clock
    #: trigger, kiosk.syncing.watch_status); this slow refresh is only a safety net.
    SYNC_REFRESH_SECONDS = 60.0
    #: Seconds between two looks at the idle timer.
    IDLE_TICK_SECONDS = 0.2

    def __init__(self, kiosk: KioskFacade, *, start_sync: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kiosk = kiosk
        self.session = PatientSession()
        self.idle = IdleTimer(kiosk.idle_timeout_seconds(), kiosk.idle_countdown_seconds())
        self._start_sync = start_sync
        self._sync_started = False
        self._exit_allowed = False
        self._still_there: Any = None
        self._events: list[Any] = []
        self.watchdog = Watchdog()
        self._receipt_event: Any = None
        self._shown_at = -1e9
        self._root: Any = None

    # --- life cycle ----------------------------------------------------------------------
    def build(self) -> BoxLayout:
        from screens import rtl

        rtl.install()  # before the first Label: every text is shaped and mirrored from here
        self.apply_settings()
        self.set_language(self.default_language)
        from kivy.core.window import Window

        from screens.keyboard import KioskKeyboard

        self.window_width, self.window_height = Window.size
        self.keyboard = KioskKeyboard()
        manager = ScreenManager(transition=NoTransition())
        self.manager = manager
        self.screen("welcome")
        manager.current = "welcome"
        import screens.language  # noqa: F401 - the top bar's language and interpreter buttons
        from screens.widgets import TopBar

        # One top bar above every screen (language, accessibility, sync mark, staff corner)
        # and the kiosk keyboard under it, taking room instead of covering the form.
        root = BoxLayout(orientation="vertical")
        self.top_bar = TopBar()
        root.add_widget(self.top_bar)
        root.add_widget(manager)
        root.add_widget(self.keyboard)
        self._root = root
        self.keyboard.bind(visible=self._on_keyboard_visible)
        manager.bind(current=self._update_top_bar)
        manager.bind(current=self.setter("screen_name"))
        self.screen_name = manager.current
        self.bind(lang=self.keyboard.setter("lang"))
        self.keyboard.lang = self.lang
        from screens.access import Access

        self.access = Access(self)
        return root

    def _on_keyboard_visible(self, _instance: Any, visible: bool) -> None:
        self.keyboard_visible = visible
        self._update_top_bar()

    def _update_top_bar(self, *_args: Any) -> None:
        """On a short screen the top bar gives its room to a screen that needs the whole
        height (`KioskScreen.full_height`). It stays while someone types: the language, A+
        and staff corner must stay reachable, and the form keeps the field in view anyway."""
        if self._root is None:
            return
        compact = self.window_height < 700
        screen = self.manager.current_screen
        wanted = getattr(screen, "full_height", False)
        hide = compact and wanted
        has_bar = self.top_bar.parent is not None
        if hide and has_bar:
            self._root.remove_widget(self.top_bar)
        elif not hide and not has_bar:
            self._root.add_widget(self.top_bar, index=len(self._root.children))

    def _on_window_size(self, _window: Any, size: tuple[int, int]) -> None:
        self.window_width, self.window_height = size
        self._update_top_bar()

    def _window_handlers(self) -> list[dict[str, Any]]:
        """Return the Window handlers on_start binds (in this order) and on_stop unbinds."""
        return [
            {"size": self._on_window_size},
            {"on_touch_down": self._swallow_settling_touch},
            {
                "on_request_close": self._refuse_close,
                "on_touch_down": self._on_activity,
                "on_key_down": self._on_activity,
                "on_textinput": self._on_activity,
            },
        ]

    def on_start(self) -> None:
        from kivy.core.window import Window

        Window.softinput_mode = ""
        for handlers in self._window_handlers():
            Window.bind(**handlers)
        self._crash_handler = install_crash_guard(self)
        self._events = [
            # The other screens are built after the first frame, one per frame.
            Clock.schedule_interval(self._build_next_screen, 0),
            Clock.schedule_interval(self._idle_tick, self.IDLE_TICK_SECONDS),
            Clock.schedule_interval(lambda _dt: self.refresh_sync(), self.SYNC_REFRESH_SECONDS),
        ]
        self.refresh_sync()
        self._sync_trigger = Clock.create_trigger(lambda _dt: self.refresh_sync())
        self._call_syncing("watch_status", callback=self._sync_trigger)
        if self._start_sync:
            self._sync_started = self._call_syncing("start_sync")
        # Bound after the activity handlers above, so it sees each key before a field does.
        self.access.start()
        # Fed from this main loop: a frozen UI stops the pings and systemd restarts the kiosk.
        self._events += self.watchdog.start(Clock.schedule_interval)

    def on_stop(self) -> None:
        from kivy.core.window import Window

        for handlers in self._window_handlers():
            Window.unbind(**handlers)
        self.watchdog.stopping()
        self.access.stop()
        remove_crash_guard(getattr(self, "_crash_handler", None))
        for event in self._events:
            event.cancel()
        self._events = []
        self._call_syncing("unwatch_status", callback=self._sync_trigger)
        if self._still_there is not None:
            self._still_there.dismiss(animation=False)
        if self._sync_started:
            self._call_syncing("stop_sync", timeout=2.0)
            self._sync_started = False

    def _call_syncing(self, name: str, **kwargs: Any) -> bool:
        """Start, stop or watch the background sync (kiosk.syncing); return True."""
        getattr(syncing, name)(self.kiosk, **kwargs)
        return True

    def open_settings(self, *_args: Any) -> bool:
        """Never open Kivy's own settings panel (F1) on a patient kiosk."""
        return False

    def _refuse_close(self, *_args: Any, **_kwargs: Any) -> bool:
        # Escape and the window's close button must not leave kiosk mode; only the admin can.
        return not self._exit_allowed

    def confirm_exit(self) -> Any:
        """Ask staff to confirm before the kiosk closes; return the question shown."""
        from screens.widgets import ConfirmExitView

        view = ConfirmExitView()
        view.open(animation=False)
        return view

    def exit_kiosk(self) -> None:
        """Leave kiosk mode (from the staff corner, once confirmed)."""
        self._exit_allowed = True
        self.stop()

    def apply_settings(self) -> None:
        """Read clinic details, languages and idle timing from the kiosk."""
        self.apply_clinic_info()
        self.idle.timeout_seconds = self.kiosk.idle_timeout_seconds()
        self.idle.countdown_seconds = self.kiosk.idle_countdown_seconds()
        self.receipt_seconds = self.kiosk.settings.receipt_seconds

    def apply_clinic_info(self) -> None:
        """Read the clinic's name, logo and languages (the sync may have pulled new ones)."""
        info = self.kiosk.clinic_info()
        self.clinic_name = info.name
        available = set(i18n.available_languages()) | {i18n.FALLBACK_LANGUAGE}
        self.languages = [code for code in info.languages if code in available] or ["en"]
        self.default_language = (
            info.default_language if info.default_language in self.languages else self.languages[0]
        )
        logo = Path(info.logo_path) if info.logo_path else DEFAULT_LOGO
        self.logo_source = str(logo) if logo.is_file() else ""

    @property
    def clinic_tz(self) -> tzinfo:
        """Return the clinic's time zone (appointment times are shown in it)."""
        return self.kiosk.settings.tz

    # --- language and accessibility -------------------------------------------------------
    def set_language(self, lang: str) -> None:
        """Switch every visible text to another language at once (and its direction)."""
        from screens import rtl

        i18n.set_language(lang)
        self.font_name = font_for(lang)
        self.input_font = input_font_for(lang)
        rtl.set_rtl(i18n.is_rtl(lang), self._root)
        self.lang = lang
        self.is_rtl = i18n.is_rtl(lang)

    def font_of(self, lang: str) -> str:
        """Return the font that shows a language's own name (the language buttons)."""
        return font_for(lang)

    def request_interpreter(self, language: str) -> bool:
        """Ask for an interpreter for this patient; True once staff will hear of it.

        Before a check-in the request waits in the patient session and goes with the check-in
        or walk-in record; after one it is sent on its own for that visit.
        """
        from kiosk.facade import KioskError

        self.session.interpreter_language = language
        receipt = self.session.receipt
        check_in_id = getattr(receipt, "check_in_id", None)
        sent = (str(check_in_id), language)
        if (
            check_in_id
            and self.session.receipt_kind in ("check_in", "already")
            and self.session.interpreter_sent != sent
        ):
            try:
                self.kiosk.request_interpreter(str(check_in_id), language)
            except KioskError:
                log.warning("interpreter request could not be saved")
                return False
            self.session.interpreter_sent = sent
        if language in self.languages and language != self.lang:
            self.set_language(language)
        return True

    def toggle_accessibility(self) -> None:
        """Switch larger text and the high-contrast theme on or off together."""
        self.set_accessibility(not self.large_text)

    def set_accessibility(self, on: bool) -> None:
        self.large_text = on
        self.high_contrast = on

    def on_large_text(self, _instance: Any, value: bool) -> None:
        self.text_scale = LARGE_TEXT_SCALE if value else 1.0

    def on_high_contrast(self, _instance: Any, value: bool) -> None:
        for name, colour in THEMES["high_contrast" if value else "standard"].items():
            setattr(self, name, colour)

    # --- navigation -----------------------------------------------------------------------
    def screen(self, name: str) -> Any:
        """Return a screen, building it on first use (start-up builds only the welcome)."""
        if not self.manager.has_screen(name):
            module_name, class_name = SCREENS[name]
            screen_class = getattr(importlib.import_module(module_name), class_name)
            self.manager.add_widget(screen_class(name=name))
        return self.manager.get_screen(name)

    def _build_next_screen(self, _dt: float) -> bool:
        """Build one screen not built yet, one per frame after start; stop when done."""
        for name in SCREENS:
            if not self.manager.has_screen(name):
                self.screen(name)
                return True
        return False

    def show(self, name: str) -> None:
        """Show a screen."""
        self.screen(name)
        if self.manager.current != name:
            # The time now, not the frame's start (Clock.get_time): a slow commit before the
            # change (a loaded machine) would otherwise use up the settling time, and the
            # second tap of a double tap, queued meanwhile, would land on the next screen.
            self._shown_at = Clock.time()
        self.manager.current = name

    def _swallow_settling_touch(self, _window: Any, _touch: Any) -> bool:
        """Drop a touch that comes right after a screen change (see `settle_seconds`)."""
        return Clock.time() - self._shown_at < self.settle_seconds

    def show_receipt(self, kind: str, receipt: Any) -> None:
        """Show the end of a flow with its receipt (queue number, QR code...)."""
        self.session.receipt = receipt
        self.session.receipt_kind = kind
        wanted = self.session.interpreter_language
        if kind == "check_in" and wanted:  # the new record carried the request
            self.session.interpreter_sent = (str(getattr(receipt, "check_in_id", "")), wanted)
        elif kind == "already" and wanted:
            # The earlier check-in went without the request: send it for that visit now.
            self.request_interpreter(wanted)
        self.screen("receipt").fill(kind, receipt)
        self.show("receipt")
        self._start_receipt_timer()

    def _start_receipt_timer(self) -> None:
        """Go back to the welcome screen by itself: the number and QR code must not wait
        for the next person."""
        self._stop_receipt_timer()
        self.receipt_seconds_left = math.ceil(self.receipt_seconds)
        deadline = Clock.get_time() + self.receipt_seconds

        def tick(_dt: float) -> bool:
            if self.manager.current != "receipt":
                self._receipt_event = None
                return False
            left = deadline - Clock.get_time()
            self.receipt_seconds_left = max(0, math.ceil(left))
            if left <= 0:
                self._receipt_event = None
                self.end_session()
                return False
            return True

        self._receipt_event = Clock.schedule_interval(tick, min(0.25, self.receipt_seconds))

    def _stop_receipt_timer(self) -> None:
        if self._receipt_event is not None:
            self._receipt_event.cancel()
            self._receipt_event = None

    def show_front_desk(self, reason_msgid: str) -> None:
        """Send the patient to the front desk, saying why."""
        self.screen("frontdesk").reason_msgid = reason_msgid
        self.show("frontdesk")

    def open_staff_corner(self) -> None:
        """Open the staff PIN pad (the hidden gesture's target)."""
        self.show("admin_pin")

    def go_home(self) -> None:
        """Finish the current patient's session and go back to the welcome screen."""
        self.end_session()

    def end_session(self) -> None:
        """Forget everything the patient entered (widgets and memory), then show welcome."""
        from kivy.core.window import Window
        from kivy.uix.spinner import Spinner

        if self._still_there is not None:
            self._still_there.dismiss(animation=False)
        self._stop_receipt_timer()
        for screen in self.manager.screens:
            for widget in screen.walk(restrict=True):
                if isinstance(widget, Spinner):
                    widget.is_open = False
            screen.reset()
        self.session = PatientSession()
        self.admin_unlocked = False
        self.show("welcome")
        # Rendered text of fields lives on in TextInput's label caches: drop it now.
        Cache.remove("textinput.label")
        Cache.remove("textinput.width")
        Window.release_all_keyboards()
        self.keyboard.target = None
        self.keyboard.visible = False
        self.keyboard.reset_layout()  # the next patient starts on the language's letters
        self.set_accessibility(False)
        self.set_language(self.default_language)
        self.access.reset()
        self.idle.disarm()

    # --- idle reset -----------------------------------------------------------------------
    def _on_activity(self, *_args: Any) -> None:
        self.idle.touch()

    def keep_session_alive(self) -> None:
        """Cancel the countdown: someone is still there."""
        self.idle.touch()
        self._hide_still_there()

    def _hide_still_there(self) -> None:
        if self._still_there is not None and self._still_there.parent is not None:
            self._still_there.dismiss(animation=False)

    def _idle_tick(self, _dt: float) -> None:
        phase = self.idle.tick()
        if phase == IdlePhase.COUNTDOWN:
            if self.manager.current == "welcome" and self.session.is_empty():
                return  # nothing to protect: reset quietly when the time is up
            self.idle_seconds_left = math.ceil(self.idle.seconds_left())
            if self._still_there is None:
                from screens.widgets import StillThereView

                self._still_there = StillThereView()
            if self._still_there.parent is None:
                self._still_there.open(animation=False)
        elif phase == IdlePhase.EXPIRED:
            self.end_session()
        else:
            self._hide_still_there()

    @property
    def still_there_visible(self) -> bool:
        """Tell whether the "Still there?" countdown is on screen."""
        return self._still_there is not None and self._still_there.parent is not None

    # --- sync mark ------------------------------------------------------------------------
    def refresh_sync(self) -> None:
        """Read the outbox state for the small mark in the top bar.

        Between patients it also picks up clinic details the sync pulled meanwhile (name,
        logo, languages), never in the middle of someone's session.
        """
        try:
            if self.manager.current == "welcome" and self.session.is_empty():
                self.apply_clinic_info()
            status = self.kiosk.sync_status()
        except Exception:  # the mark must never take the kiosk down
            log.exception("sync status unavailable")
            return
        self.sync_pending = status.pending
        if not status.paired or status.online is False:
            self.sync_state = "offline"
        elif status.pending:
            self.sync_state = "waiting"
        else:
            self.sync_state = "sent"

    def sync_text(self, lang: str, state: str, pending: int) -> str:
        """Return the sync mark's text in a language.

        Patients read a number on this screen as a place in a queue, so the mark says only
        whether records are saved and sent; the counts are on the staff screen.
        """
        del pending  # bound in kv so the mark refreshes; counts are for staff only
        if state == "sent":
            return i18n._("Saved and sent", lang)
        if state == "waiting":
            return i18n._("Saved, sending", lang)
        return i18n._("Saved on this kiosk", lang)


# --- last-resort exception handler (the logic lives in kiosk/crash.py) --------------------
class _RecoverToWelcome(ExceptionHandler):
    """Pass every exception of Kivy's main loop to the crash guard instead of closing."""

    def __init__(self, guard: CrashGuard) -> None:
        self.guard = guard

    def handle_exception(self, inst: BaseException) -> Any:
        return ExceptionManager.PASS if self.guard.handle(inst) else ExceptionManager.RAISE


def install_crash_guard(app: KioskApp) -> _RecoverToWelcome:
    """Make exceptions in callbacks and worker threads end the session, not the kiosk."""
    guard = CrashGuard(record=lambda: count_crash(app.kiosk), recover=app.end_session)
    handler = _RecoverToWelcome(guard)
    ExceptionManager.add_handler(handler)
    threading.excepthook = guard.thread_hook
    return handler


def remove_crash_guard(handler: _RecoverToWelcome | None) -> None:
    """Undo install_crash_guard (the app is stopping)."""
    if handler is not None and handler in ExceptionManager.handlers:
        ExceptionManager.remove_handler(handler)
    threading.excepthook = threading.__excepthook__
