"""Idle reset, language and accessibility switches, staff corner, kiosk mode, every screen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from kiosk.app import SCREENS
from screens.widgets import DateField, NumPad, ScoreRow


def screen(ui: Any, name: str) -> Any:
    current = ui.app.manager.current_screen
    assert current.name == name, f"on {current.name!r}, expected {name!r}"
    return current


@pytest.fixture
def short_idle(ui: Any) -> Iterator[Any]:
    """Give back the real idle timer's settings after a test shortened them."""
    idle = ui.app.idle
    saved = idle.timeout_seconds, idle.countdown_seconds, idle.now
    yield ui
    idle.timeout_seconds, idle.countdown_seconds, idle.now = saved


def test_idle_countdown_then_reset_clears_every_entered_value(short_idle: Any) -> None:
    ui = short_idle
    ui.tap(screen(ui, "welcome").ids.check_in)
    checkin = screen(ui, "checkin")
    ui.pump_until(lambda: checkin.ids.last_name.focus)
    ui.type_text("Okafor")
    ui.press_enter()
    ui.type_text("0312")  # half a date of birth
    checkin.ids.dob.focus = False
    ui.pump_until(lambda: ui.app.top_bar.parent is not None)  # the keyboard has gone
    from kivy.cache import Cache

    def rendered_names() -> list[str]:
        return [k for k in Cache._objects.get("textinput.label", {}) if "Okafor" in k]

    assert rendered_names()  # the typed name is in TextInput's label cache now
    ui.tap(ui.app.top_bar.ids.accessibility)  # larger text: must be undone for the next patient
    ui.app.session.last_name = "Okafor"  # as a lookup in progress would hold it
    # The timer's own clock, moved by the test: the app's idle tick (a real Kivy Clock
    # interval) sees 60 s pass without anyone touching, however slow the machine's frames.
    clock = [1_000.0]
    ui.app.idle.now = lambda: clock[0]
    ui.app.idle.timeout_seconds, ui.app.idle.countdown_seconds = 60.0, 20.0
    ui.app.idle.touch()
    clock[0] += 60.5

    ui.pump_until(lambda: ui.app.still_there_visible, timeout=4)
    modal = ui.app._still_there
    assert "Still there?" in ui.texts(modal)
    assert any(t.startswith("Starting over in") for t in ui.texts(modal))
    ui.screenshot("still_there")
    ui.tap(modal.ids.still_here)  # any touch keeps the session
    assert not ui.app.still_there_visible
    assert ui.app.manager.current == "checkin" and checkin.ids.last_name.text == "Okafor"
    ui.pump(3)
    assert ui.app.manager.current == "checkin"  # the touch started the minute again

    clock[0] += 80.5  # a minute and the 20 s countdown, untouched
    ui.pump_until(lambda: ui.app.manager.current == "welcome", timeout=5)
    assert not ui.app.still_there_visible
    field = checkin.ids.last_name
    assert field.text == "" and checkin.last_name == ""
    assert field._undo == [] and field._redo == []
    assert checkin.ids.dob.digits == "" and checkin.ids.dob.value() is None
    assert not ui.app.keyboard.visible
    assert ui.app.session.is_empty()
    assert ui.app.large_text is False and ui.app.lang == "en"
    ui.pump(2)
    assert not rendered_names()  # rendered names dropped too (hints may be re-rendered)


def test_reset_clears_every_screen_property_and_field(ui: Any) -> None:
    for name in SCREENS:
        holder = ui.app.screen(name)
        for field in holder.text_inputs():
            field.text = "Zed"
        for prop in holder.patient_fields:
            value = holder.property(prop).defaultvalue
            if isinstance(value, bool):
                setattr(holder, prop, not value)
            elif isinstance(value, str):
                setattr(holder, prop, "Zed")
            elif isinstance(value, int | float):
                setattr(holder, prop, 7)
        for widget in holder.walk(restrict=True):
            if isinstance(widget, NumPad):
                widget.value = "1234"
            elif isinstance(widget, ScoreRow):
                widget.score = 3
            elif isinstance(widget, DateField):
                widget.set_value(date(1990, 1, 2))
    ui.app.session.last_name = "Zed"
    ui.app.session.date_of_birth = date(1990, 1, 2)
    ui.app.end_session()
    ui.pump(2)
    assert ui.app.session.is_empty()
    for name in SCREENS:
        holder = ui.app.screen(name)
        assert all(f.text == "" for f in holder.text_inputs()), name
        for prop in holder.patient_fields:
            assert getattr(holder, prop) == holder.property(prop).defaultvalue, (name, prop)
        for widget in holder.walk(restrict=True):
            if isinstance(widget, NumPad):
                assert widget.value == "" and widget.ids.display.text == "", name
            elif isinstance(widget, ScoreRow):
                assert widget.score == -1, name
            elif isinstance(widget, DateField):
                assert widget.value() is None and widget.echo == "", name
    # Every screen holding patient input says so in patient_fields (PIN pad: its NumPad).
    for name, props in {
        "walkin": {"first_name", "last_name", "reason", "phone"},
        "contact": {"phone", "email"},
        "ask": {"question", "contact_name", "contact_phone", "contact_email"},
        "rate_details": {"comment", "consent", "contact_phone"},
        "admin": {"pairing_code"},
        "checkin": {"last_name"},
    }.items():
        assert props <= set(ui.app.screen(name).patient_fields), name


def test_language_switch_rerenders_visible_text_at_once(ui: Any) -> None:
    welcome = screen(ui, "welcome")
    assert welcome.ids.check_in.text == "Check in"
    buttons = {b.lang: b for b in ui.app.top_bar.ids.languages.children}
    assert set(buttons) == {"en", "es"}
    ui.tap(buttons["es"])
    assert welcome.ids.check_in.text == "Registrar llegada"
    assert welcome.ids.rate.text == "Valorar mi visita"
    ui.screenshot("welcome_es")
    ui.tap(welcome.ids.check_in)
    checkin = screen(ui, "checkin")
    assert checkin.ids.next.text == "Siguiente"
    assert checkin.ids.dob.order() == ["d", "M", "y"]  # Spanish dates: day first
    assert checkin.ids.dob.ids.part2.text == "AAAA"
    ui.tap(checkin.ids.next)
    ui.pump(2)
    assert checkin.ids.last_name_box.ids.error.text == "Escriba su apellido."
    ui.tap(buttons["en"])  # an error already shown follows the language too
    assert checkin.ids.last_name_box.ids.error.text == "Please type your last name."
    assert checkin.ids.next.text == "Next"
    assert checkin.ids.dob.order() == ["M", "d", "y"]  # English (US) dates: month first


def test_accessibility_switch_enlarges_text_and_raises_contrast(ui: Any) -> None:
    welcome = screen(ui, "welcome")
    normal_size = welcome.ids.check_in.font_size
    ui.tap(ui.app.top_bar.ids.accessibility)
    assert welcome.ids.check_in.font_size > normal_size * 1.2
    assert list(ui.app.bg_color) == [0, 0, 0, 1]
    ui.screenshot("welcome_high_contrast")
    ui.tap(ui.app.top_bar.ids.accessibility)
    assert welcome.ids.check_in.font_size == normal_size


def test_staff_corner_needs_the_gesture_and_the_right_pin(ui: Any) -> None:
    corner = ui.app.top_bar.ids.staff_corner
    ui.tap(corner)
    assert ui.app.manager.current == "welcome"  # one tap is not the gesture
    ui.tap(corner, times=4)
    pin = screen(ui, "admin_pin")
    keys = {k.key: k for k in pin.ids.pad.walk(restrict=True) if hasattr(k, "key")}
    for digit in "9999":
        ui.tap(keys[digit])
    assert pin.ids.pad.ids.display.text == "****"
    ui.tap(pin.ids.ok)
    assert pin.ids.error.text == "Wrong PIN."
    assert ui.app.manager.current == "admin_pin"
    ui.screenshot("admin_pin")
    for digit in "1234":
        ui.tap(keys[digit])
    ui.tap(pin.ids.ok)
    admin = screen(ui, "admin")
    assert admin.ids.server_url.text == "https://clinic.example.test"
    assert "Waiting:" in admin.ids.sync_status.text
    ui.screenshot("admin")
    ui.tap(admin.ids.close)
    screen(ui, "welcome")
    ui.app.show("admin")  # not through the PIN: sent back
    screen(ui, "welcome")


def test_escape_and_window_close_do_not_leave_kiosk_mode(ui: Any) -> None:
    window = ui.window
    assert window.dispatch("on_request_close") is True
    window.dispatch("on_keyboard", 27, 41, None, [])
    ui.pump(2)
    assert ui.app.root.get_root_window() is window
    assert ui.app.manager.current == "welcome"


def test_sync_mark_shows_the_outbox_state(ui: Any) -> None:
    ui.app.refresh_sync()
    ui.pump(1)
    mark = ui.app.top_bar.ids.sync_mark.text
    pending = ui.app.kiosk.sync_status().pending
    assert ui.app.sync_state == "offline"  # the demo kiosk is not paired
    # Never a count on the patient screens: "5 waiting" reads like a queue length.
    assert mark == "Saved on this kiosk"
    assert not any(ch.isdigit() for ch in mark) and pending >= 0


def test_every_screen_renders(ui: Any) -> None:
    for name in SCREENS:
        if name == "admin":
            ui.app.admin_unlocked = True
        ui.app.show(name)
        ui.pump(2)
        ui.screenshot(f"screen_{name}")


def open_admin(ui: Any) -> Any:
    corner = ui.app.top_bar.ids.staff_corner
    ui.tap(corner, times=5)
    pin = screen(ui, "admin_pin")
    keys = {k.key: k for k in pin.ids.pad.walk(restrict=True) if hasattr(k, "key")}
    for digit in "1234":
        ui.tap(keys[digit])
    ui.tap(pin.ids.ok)
    return screen(ui, "admin")


def test_admin_settings_are_validated_saved_and_applied(ui: Any) -> None:
    admin = open_admin(ui)
    field = admin.ids.idle_timeout
    ui.tap(field)
    field.select_all()
    ui.type_text("5")  # input_filter int: only digits reach the field
    ui.press_enter()
    ui.tap(admin.ids.save)
    assert admin.ids.message.text == "Please enter a number of seconds between 20 and 600."
    assert ui.app.idle.timeout_seconds == 60  # nothing half-saved
    ui.tap(field)
    field.select_all()
    ui.type_text("90")
    ui.press_enter()
    ui.tap(admin.ids.save)
    assert admin.ids.message.text == "Settings saved."
    assert ui.app.idle.timeout_seconds == 90
    field.text = "60"
    ui.tap(admin.ids.save)
    assert ui.app.idle.timeout_seconds == 60


def test_pairing_failure_comes_back_to_the_admin_screen(ui: Any) -> None:
    admin = open_admin(ui)
    admin.server_url = "http://127.0.0.1:9"  # nothing listens on the discard port
    ui.tap(admin.ids.pairing_code)
    ui.type_text("ABCDEF12")
    ui.press_enter()
    ui.tap(admin.ids.pair)  # runs in the background; the answer comes back on the main thread
    ui.pump_until(lambda: not admin.pairing_busy, timeout=15)
    assert admin.ids.message.text not in ("", "Pairing...", "Paired with the clinic server.")
    assert admin.ids.pairing_code.text == ""  # a code is used once; never left on screen
    admin.server_url = "https://clinic.example.test"


def test_clinic_details_pulled_by_the_sync_show_between_patients(ui: Any, kiosk: Any) -> None:
    from kiosk.demo import build_demo_pull
    from kiosk.store import apply_pull

    def pull_clinic_name(name: str) -> None:
        with kiosk.db.write() as session:
            pull = build_demo_pull(kiosk, b"test pepper")
            clinic = pull.clinic.model_copy(update={"name": name})
            apply_pull(pull.model_copy(update={"clinic": clinic}), session=session)

    welcome = screen(ui, "welcome")
    original = ui.app.clinic_name
    try:
        pull_clinic_name("Harbour Street Clinic")
        ui.tap(welcome.ids.check_in)  # a patient is busy: nothing changes under them
        ui.app.refresh_sync()
        assert ui.app.clinic_name == original
        ui.app.go_home()
        ui.app.refresh_sync()
        ui.pump(1)
        assert welcome.ids.greeting.text == "Welcome to Harbour Street Clinic"
    finally:
        pull_clinic_name(original)
        ui.app.refresh_sync()


def test_admin_shows_a_revoked_kiosk_and_the_last_refusal(ui: Any, kiosk: Any) -> None:
    import uuid

    from kiosk.state import StateKey, set_flag
    from sync import outbox
    from sync.outbox import OutboxRecord, OutboxStatus

    record_id = str(uuid.uuid4())
    with kiosk.db.write() as session:
        set_flag(StateKey.REVOKED, True, session=session)
        session.add(
            OutboxRecord(
                id=record_id,
                kind="question",
                payload={},
                status=OutboxStatus.FAILED,
                attempts=1,
                created_at=outbox.utcnow(),
                next_attempt_at=outbox.utcnow(),
                last_error="invalid (HTTP 422): text too long",
            )
        )
    try:
        admin = open_admin(ui)
        status = admin.ids.sync_status.text
        assert status.startswith("Revoked by the clinic server: pair again")
        assert "Failed: " in status and "Last refused: question: invalid (HTTP 422)" in status
        ui.tap(ui.app.top_bar.ids.languages.children[0])  # ES (the buttons are right to left)
        assert "Revocado por el servidor" in admin.ids.sync_status.text
    finally:
        with kiosk.db.write() as session:
            set_flag(StateKey.REVOKED, False, session=session)
            session.delete(session.get(OutboxRecord, record_id))
