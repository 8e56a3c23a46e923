"""The on-screen keyboard in the language's own script (Russian, Arabic) and in Latin letters,
typed by tapping keys in the real window; Arabic typed shaped and from the right; a field's
error mark on the right in Arabic (screenshots artifacts/screenshots/keyboard-*.png)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from kiosk import i18n
from kiosk.textshape import typed_line


def _screen(ui: Any, name: str, lang: str) -> Any:
    ui.app.set_language(lang)
    ui.app.show(name)
    ui.pump_until(lambda: ui.app.manager.current == name)
    ui.pump(3)
    return ui.app.manager.current_screen


def _labels(ui: Any) -> dict[str, str]:
    return {key.key: key.text for key in ui.app.keyboard.all_keys() if key.role != "blank"}


def _crop(path: Path, widget: Any) -> Image.Image:
    """Return the part of a screenshot a widget covers (grey levels)."""
    x0, y0 = widget.to_window(widget.x, widget.y)
    with Image.open(path) as image:
        grey = image.convert("L")
        return grey.crop(
            (
                int(x0),
                int(grey.height - y0 - widget.height),
                int(x0 + widget.width),
                int(grey.height - y0),
            )
        )


def _inked_columns(crop: Image.Image, margin: int = 4) -> list[int]:
    """Return the columns of a crop with ink on them (away from the field's edge lines)."""
    background = crop.getpixel((margin + 2, crop.height // 2))
    return [
        x
        for x in range(margin, crop.width - margin)
        if any(
            abs(crop.getpixel((x, y)) - background) > 60  # type: ignore[operator]
            for y in range(margin, crop.height - margin)
        )
    ]


def _runs(columns: list[int]) -> int:
    """Count the separate runs of inked columns (letters not joined to each other)."""
    return sum(1 for i, x in enumerate(columns) if i == 0 or columns[i - 1] != x - 1)


def test_russian_types_cyrillic_then_latin_by_taps(ui: Any) -> None:
    from tests.ui.conftest import KEY_TAPS

    walkin = _screen(ui, "walkin", "ru")
    board = ui.app.keyboard
    ui.tap(walkin.ids.first_name)
    ui.pump_until(lambda: board.visible and board.target == walkin.ids.first_name)
    # The language's own letters first: ЙЦУКЕН, every letter on one page, Shift as in Latin.
    assert board.layout_index == 0
    assert board.key_for("й") is not None and board.key_for("q") is None
    assert board.key_for("ё") is not None and board.key_for("ъ") is not None
    labels = _labels(ui)
    assert labels["й"] == "Й"  # the auto-capital at the start of a name, as in English
    assert labels["switch"] == "abc"
    assert labels["space"] == i18n._("space", "ru")
    ui.screenshot("keyboard-ru-cyrillic")
    ui.type_text("Пётр")
    assert walkin.ids.first_name.text == "Пётр"
    ui.press_enter()
    assert board.target == walkin.ids.last_name
    ui.type_text("Семёнова-Ли")
    assert walkin.ids.last_name.text == "Семёнова-Ли"

    # The switch key: the Latin letters, and it says so on the space bar.
    walkin.ids.last_name.text = ""
    ui.pump(2)
    ui.tap_key("switch")
    ui.pump(2)
    assert board.layout_index == 1
    assert board.key_for("q") is not None and board.key_for("й") is None
    labels = _labels(ui)
    assert labels["switch"] == "абв"
    assert "A-Z" in labels["space"]
    ui.screenshot("keyboard-ru-latin")
    taps = len(KEY_TAPS)
    ui.type_text("Ivanova")
    assert "switch" not in KEY_TAPS[taps:]  # typed on the Latin keys already shown
    assert walkin.ids.last_name.text == "Ivanova"
    # The choice holds for the next field (a name in Latin letters is typed in Latin letters).
    ui.tap(walkin.ids.first_name)
    ui.pump_until(lambda: board.target == walkin.ids.first_name)
    assert board.layout_index == 1
    # ...until the next patient, who starts on the Russian letters again.
    ui.app.end_session()
    ui.pump(2)
    walkin = _screen(ui, "walkin", "ru")
    ui.tap(walkin.ids.first_name)
    ui.pump_until(lambda: board.visible and board.target == walkin.ids.first_name)
    assert board.layout_index == 0


def test_arabic_letters_typed_by_taps_show_joined_from_the_right(ui: Any) -> None:
    checkin = _screen(ui, "checkin", "ar")
    board = ui.app.keyboard
    field = checkin.ids.last_name.__self__  # the widget, not the ids' weak proxy
    ui.tap(field)
    ui.pump_until(lambda: board.visible and board.target is field)
    assert board.layout_index == 0 and board.key_for("ض") is not None
    assert board.key_for("shift") is None  # Arabic has no capitals
    labels = _labels(ui)
    assert labels["switch"] == "abc" and labels["accents"] == "أإآ"
    ui.type_text("محمد")
    assert field.text == "محمد"
    # The caret follows the last letter typed, at the left end of the word.
    caret_x = field.cursor_pos[0] - field.x
    # A tap at the word's right end puts the caret before its first letter; at its left end,
    # after its last.
    text_right = field.right - field.padding[2]
    text_left = text_right - field._get_row_width(0)
    assert field.get_cursor_from_xy(text_right - 2, field.center_y) == (0, 0)
    assert field.get_cursor_from_xy(text_left + 2, field.center_y) == (4, 0)
    ui.screenshot("keyboard-ar-arabic")
    field.focus = False  # no caret in the picture below
    ui.pump_until(lambda: not board.visible)
    path = ui.screenshot("keyboard-ar-typed")
    columns = _inked_columns(_crop(path, field))
    assert columns, "nothing drawn in the field"
    # Right to left: the word sits at the field's right; joined: one run of ink, where the
    # four letters drawn unshaped (Kivy on its own) stand apart.
    assert sum(columns) / len(columns) > field.width / 2
    assert _runs(columns) <= 2, _runs(columns)
    drawn, carets = typed_line(field.text)
    assert drawn[0] == "\ufeaa" and carets[-1] == 0  # the final dal drawn first, on the left
    assert abs(caret_x - min(columns)) <= 4, (caret_x, min(columns))

    # A hamza form from the accents page, then back to the letters.
    field.text = ""
    ui.tap(field)
    ui.pump_until(lambda: board.visible and board.target is field)
    ui.type_text("أحمد")
    assert field.text == "أحمد"
    assert board.mode == "letters"


def test_arabic_screen_types_a_latin_name_after_the_switch(ui: Any) -> None:
    walkin = _screen(ui, "walkin", "ar")
    board = ui.app.keyboard
    ui.tap(walkin.ids.first_name)
    ui.pump_until(lambda: board.visible and board.target == walkin.ids.first_name)
    ui.type_text("علي")
    ui.press_enter()
    ui.tap_key("switch")
    ui.pump(2)
    assert board.key_for("shift") is not None  # Latin letters have capitals again
    assert _labels(ui)["switch"] == "أبت"
    assert "A-Z" in _labels(ui)["space"]
    ui.type_text("Haddad")
    assert walkin.ids.first_name.text == "علي"
    assert walkin.ids.last_name.text == "Haddad"
    ui.screenshot("keyboard-ar-latin")


def _red_share(path: Path, centre: tuple[float, float], radius: int = 8) -> float:
    """Return the share of strongly red pixels in a square around a window point."""
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        cx, cy = int(centre[0]), int(rgb.height - centre[1])
        pixels = [
            rgb.getpixel((x, y))
            for x in range(cx - radius, cx + radius + 1)
            for y in range(cy - radius, cy + radius + 1)
        ]
    red = [p for p in pixels if p[0] > 140 and p[1] < 70 and p[2] < 70]  # type: ignore[index]
    return len(red) / len(pixels)


def test_the_error_mark_sits_where_the_text_starts(ui: Any) -> None:
    """The red "!" beside a field's error: on the left in English, on the right in Arabic."""
    from kivy.metrics import dp

    for lang in ("en", "ar"):
        ui.app.end_session()
        ui.pump(2)
        checkin = _screen(ui, "checkin", lang)
        ui.tap(checkin.ids.next)  # nothing typed: "Please type your last name."
        error = checkin.ids.last_name_box.ids.error
        ui.pump_until(lambda error=error: bool(error.text))
        assert error.text == i18n._("Please type your last name.", lang)
        for field in (checkin.ids.last_name, checkin.ids.dob):
            field.focus = False
        ui.pump_until(lambda: not ui.app.keyboard.visible)
        ui.pump(3)
        path = ui.screenshot(f"keyboard-error-mark-{lang}")
        y = error.to_window(0, error.center_y)[1]
        left = (error.to_window(error.x, 0)[0] + dp(15), y)
        right = (error.to_window(error.right, 0)[0] - dp(15), y)
        mark = error.ids.mark
        mark_x = mark.to_window(mark.center_x, 0)[0]
        if lang == "ar":
            assert _red_share(path, right) > 0.5 > 0.2 > _red_share(path, left)
            assert mark_x > error.to_window(error.center_x, 0)[0]
        else:
            assert _red_share(path, left) > 0.5 > 0.2 > _red_share(path, right)
            assert mark_x < error.to_window(error.center_x, 0)[0]
