"""Issue 8, the fast check-in: keys thrown away never break a kv rule, a double tap on
Register stores one walk-in, and the digit pad leads back to the name at 800x480."""

from __future__ import annotations

import gc
import weakref
from datetime import date
from typing import Any

from test_ui_redesign import count, dob_digits, screen

from kiosk.models import WalkIn


def window_rect(widget: Any) -> tuple[float, float, float, float]:
    x0, y0 = widget.to_window(widget.x, widget.y)
    x1, y1 = widget.to_window(widget.right, widget.top)
    return x0, y0, x1, y1


def shown_in_form(field: Any) -> bool:
    """Tell whether a field's centre is inside the visible part of its FormArea."""
    from screens.widgets import FormArea

    x, y = field.to_window(*field.center)
    node = field.parent
    while node is not None and node is not node.parent:
        if isinstance(node, FormArea):
            return bool(node.collide_point(*node.to_widget(x, y)))
        node = node.parent
    return True


def fits(key: Any) -> bool:
    """Tell whether a key's label is drawn inside the key."""
    key.texture_update()
    width, height = key.texture_size
    return bool(width <= key.width and height <= key.height - 2)


def fill_walk_in(ui: Any, first: str) -> Any:
    """Open the walk-in form and fill it by taps on the keyboard (no phone)."""
    ui.app.show("walkin")
    ui.pump(3)
    walkin = screen(ui, "walkin")
    ui.tap(walkin.ids.first_name)
    ui.type_text(first)
    ui.press_enter()
    ui.type_text("Tanaka")
    ui.press_enter()
    ui.type_text(dob_digits(walkin.ids.dob, date(1993, 5, 17)))
    ui.press_enter()
    ui.press_enter()  # no phone
    ui.type_text("Cough")
    return walkin


# --- the ReferenceError --------------------------------------------------------------------
def test_keys_thrown_away_by_a_page_change_never_break_a_rule(ui: Any) -> None:
    """The cause of the intermittent weakproxy ReferenceError: keys of the page left stayed
    bound to the keyboard and the app until the cycle collector freed them; a collection
    during one of their rules freed the key under it. Here the collector runs inside every
    key's rule, as it may at any allocation."""
    from kivy.lang.builder import _handlers

    from screens.keyboard import KioskKeyboard

    ui.app.show("walkin")
    ui.pump(3)
    walkin = screen(ui, "walkin")
    ui.tap(walkin.ids.first_name)
    ui.type_text("Zoë")  # letters, accents, letters: two pages thrown away
    letter_keys = [weakref.ref(k) for k in ui.app.keyboard.all_keys()]
    uids = [k.uid for k in ui.app.keyboard.all_keys()]
    ui.press_enter()
    ui.press_enter()  # the date of birth: the letter keys give way to the digit pad
    assert ui.app.keyboard.mode == "digits"
    assert not any(uid in _handlers for uid in uids)  # unbound at once, not at collection
    real = KioskKeyboard.label_for
    collections: list[int] = []

    def collecting(self: Any, *args: Any) -> str:
        collections.append(gc.collect())
        return real(self, *args)

    KioskKeyboard.label_for = collecting  # type: ignore[method-assign]
    try:
        ui.app.set_language("es")  # every key's label rule runs...
        ui.pump(2)
        ui.app.set_accessibility(True)  # ...and every colour rule
        ui.pump(2)
        ui.tap_key("1")
        ui.app.set_language("en")
        ui.pump(2)
    finally:
        KioskKeyboard.label_for = real  # type: ignore[method-assign]
    assert collections, "no key label was drawn again"
    assert all(ref() is None for ref in letter_keys)  # gone, and their rules with them
    assert walkin.ids.dob.digits.endswith("1")


def test_a_language_picked_from_the_list_leaves_no_rule_behind(ui: Any) -> None:
    """The language list is a new view each time: its rules must not outlive it either."""
    from kivy.lang.builder import _handlers

    from screens.language import LanguagePicker

    picker = LanguagePicker(mode="screen")
    picker.open(animation=False)
    ui.pump(2)
    uids = [w.uid for w in picker.walk(restrict=True)]
    assert any(uid in _handlers for uid in uids)
    ui.tap(next(b for b in picker.ids.grid.children if b.lang == "es"))
    assert picker.parent is None and ui.app.lang == "es"
    assert not any(uid in _handlers for uid in uids)


# --- one tap, one walk-in --------------------------------------------------------------------
def test_a_double_tap_on_register_stores_one_walk_in(ui: Any, kiosk: Any) -> None:
    from kivy.tests.common import UnitTestTouch

    before = count(kiosk, WalkIn)
    walkin = fill_walk_in(ui, "Yuki")
    # Counted at the service's door: its own same-day de-duplication must not hide a
    # second call.
    real = kiosk.register_walk_in
    calls: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    kiosk.register_walk_in = counted
    x, y = walkin.ids.register.to_window(*walkin.ids.register.center)

    def tap_register_spot() -> None:
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()

    try:
        tap_register_spot()  # registers, and the receipt is shown at once
        # The product's settling time from here on, long enough for a slow machine (the
        # tests' app has none, so that their taps need not wait).
        ui.app.settle_seconds = 10
        tap_register_spot()  # the second tap of the double tap, no frame between them
        ui.pump(2)
        tap_register_spot()  # a late one, once the receipt is drawn
        ui.pump(2)
    finally:
        ui.app.settle_seconds = 0
        kiosk.register_walk_in = real
    assert calls == [1]
    assert count(kiosk, WalkIn) == before + 1
    receipt = screen(ui, "receipt")  # the later taps did not press Done under the finger
    assert receipt.queue_number


# --- back from the date of birth to the name ------------------------------------------------
def test_the_digit_pad_leads_back_to_the_name_and_the_name_is_fixed(sized: Any, kiosk: Any) -> None:
    ui = sized
    width = int(ui.window.width)
    ui.tap(screen(ui, "welcome").ids.check_in)
    checkin = screen(ui, "checkin")
    ui.pump_until(lambda: checkin.ids.last_name.focus)
    ui.type_text("Okafr")  # a letter missed
    ui.press_enter()
    board = ui.app.keyboard
    assert checkin.ids.dob.focus and board.mode == "digits"
    ui.type_text("0312")
    ui.pump(4)
    if width == 800:  # the form shows only the date's box above the digit pad
        assert not shown_in_form(checkin.ids.last_name)
    back = board.key_for("previous")
    assert back is not None, "no way back on the digit pad"
    assert back.text == "Back to: Your last name"
    ui.pump_until(lambda: fits(back))  # the label's lines stay inside the key
    ui.screenshot(f"checkin-dob-previous-{width}")

    ui.tap_key("previous")
    ui.pump(4)
    name = checkin.ids.last_name
    assert name.focus and not checkin.ids.dob.focus
    assert board.mode == "letters" and board.target.uid == name.uid
    assert shown_in_form(name)
    assert window_rect(name)[1] >= window_rect(board)[3] - 1.0  # above the keys
    ui.screenshot(f"checkin-back-to-name-{width}")
    ui.tap_key("backspace")
    ui.type_text("or")
    assert name.text == "Okafor"
    assert checkin.ids.dob.digits == "0312"  # what was typed of the date is kept
    ui.press_enter()  # on to the date again, where it was left
    assert checkin.ids.dob.focus and board.mode == "digits"
    ui.type_text("1984")
    assert checkin.ids.dob.value() == date(1984, 3, 12)
    ui.press_enter()
    screen(ui, "confirm")


def test_the_way_back_says_where_it_goes_in_the_language_on_screen(ui: Any) -> None:
    ui.tap(screen(ui, "welcome").ids.check_in)
    checkin = screen(ui, "checkin")
    ui.pump_until(lambda: checkin.ids.last_name.focus)
    ui.press_enter()
    board = ui.app.keyboard
    assert board.key_for("previous").text == "Back to: Your last name"
    ui.app.set_language("es")  # while the pad is up
    ui.pump(2)
    assert board.key_for("previous").text == "Volver a: Su apellido"
    ui.screenshot("checkin-dob-previous-es-800")
    from kiosk import i18n

    for lang in i18n.available_languages():  # the longest way still fits at 800x480
        ui.app.set_language(lang)
        ui.pump_until(lambda: fits(board.key_for("previous")))
        assert board.key_for("previous").font_size >= 11, lang  # and stays readable
        ui.screenshot(f"checkin-dob-previous-{lang}-800")
    ui.app.set_language("es")
    ui.tap_key("previous")
    assert checkin.ids.last_name.focus
    assert board.key_for("previous") is None  # the first field has no field before it
