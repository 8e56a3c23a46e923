"""Every screen in every language, right to left in Arabic, and the interpreter button, in the
real window (screenshots under artifacts/screenshots/i18n-*.png)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from PIL import Image
from sqlalchemy import select

from kiosk import i18n
from sync.outbox import OutboxRecord

SIX = ["en", "es", "zh", "vi", "ar", "ru"]
SCREENS = [
    "welcome",
    "checkin",
    "verify_phone",
    "nomatch",
    "confirm",
    "contact",
    "walkin",
    "frontdesk",
    "receipt",
    "receipt_question",
    "questions",
    "ask",
    "rate",
    "rate_details",
    "admin_pin",
    "admin",
]
ROOT = Path(__file__).resolve().parents[2]


def _english_msgids() -> set[str]:
    with (ROOT / "assets" / "locale" / "kiosk.pot").open("rb") as handle:
        return {m.id for m in read_po(handle) if m.id and isinstance(m.id, str)}


@pytest.fixture
def six(ui: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The kiosk offering all six languages (the clinic's setting), back to its own after."""
    import dataclasses

    before = list(ui.app.languages)
    clinic_info = ui.app.kiosk.clinic_info
    # The app reads the clinic's languages again between patients (refresh_sync).
    monkeypatch.setattr(
        ui.app.kiosk,
        "clinic_info",
        lambda: dataclasses.replace(clinic_info(), languages=list(SIX)),
    )
    ui.app.languages = SIX
    ui.pump(2)
    yield ui
    monkeypatch.undo()
    ui.app.end_session()
    ui.app.languages = before
    ui.app.set_language(ui.app.default_language)
    ui.pump(2)


def _show(ui: Any, name: str, lang: str) -> Any:
    from tests.ui.test_ui_layout import fill

    ui.app.end_session()
    ui.app.set_language(lang)
    screen = fill(ui.app, name)
    ui.pump(4)
    return screen


@pytest.mark.parametrize("lang", SIX)
def test_every_screen_in_every_language(six: Any, lang: str) -> None:
    ui = six
    english = _english_msgids()
    for name in SCREENS:
        _show(ui, name, lang)
        ui.screenshot(f"i18n-{lang}-{name}")
        shown = ui.texts(ui.app.root)
        assert shown, name
        untranslated = [t for t in shown if t in english and i18n._(t, lang) != t]
        assert not untranslated, f"{lang}/{name}: shown in English: {untranslated}"
        assert not _broken_words(ui.app.root), f"{lang}/{name}: a word broken across lines"
    if lang != "en":
        welcome = _show(ui, "welcome", lang)
        assert welcome.ids.check_in.text == i18n._("Check in", lang) != "Check in"


def _broken_words(root: Any) -> list[tuple[str, str]]:
    """Return (text, piece) for each button or fitted label whose wrapping cut a word."""
    from screens.widgets import FitText

    def letters(text: str) -> str:  # Arabic is drawn in presentation forms, right to left
        return unicodedata.normalize("NFKC", text)

    broken = []
    for widget in root.walk(restrict=True):
        shown = isinstance(widget, FitText) and widget.text and widget.opacity > 0
        if not shown or not (widget.text_size[0] or 0) > 0:  # hidden, or not wrapping
            continue
        whole = set(letters(widget.text).split())
        for line in widget._label._cached_lines:
            pieces = [letters(p) for w in line.words for p in w.text.split()]
            broken += [(widget.text, p) for p in pieces if p not in whole and p[::-1] not in whole]
    return broken


def test_welcome_offers_every_language_in_its_own_name_and_font(six: Any) -> None:
    ui = six
    from screens.language import OwnNameButton

    row = ui.app.screen("welcome").ids.welcome_languages
    buttons = {b.lang: b for b in row.children if isinstance(b, OwnNameButton)}
    assert sorted(buttons) == sorted(SIX)
    assert buttons["ar"].text == "العربية" and buttons["zh"].text == "简体中文"
    for lang in ("en", "ar"):  # whatever the screens' language, each name keeps its font
        ui.app.set_language(lang)
        ui.pump(3)
        assert Path(buttons["zh"].font_name).name.startswith("NotoSansCJK")
        assert buttons["ar"].font_name == ui.app.font_of("ar")
    ui.tap(buttons["vi"])
    assert ui.app.lang == "vi"
    assert ui.app.screen("welcome").ids.check_in.text == "Báo đã đến"
    ui.screenshot("i18n-welcome-languages")


def _window_center_x(widget: Any) -> float:
    x, _y = widget.to_window(widget.center_x, widget.center_y)
    return float(x)


def _shown_box(widget: Any) -> tuple[float, float, float, float]:
    """Return the part of a widget's box (window pixels) that the stencils around it show."""
    from kivy.uix.stencilview import StencilView

    x0, y0 = widget.to_window(widget.x, widget.y)
    x1, y1 = widget.to_window(widget.right, widget.top)
    node = widget.parent
    while node is not None and node is not node.parent:
        if isinstance(node, StencilView):
            sx0, sy0 = node.to_window(node.x, node.y)
            sx1, sy1 = node.to_window(node.right, node.top)
            x0, y0, x1, y1 = max(x0, sx0), max(y0, sy0), min(x1, sx1), min(y1, sy1)
        node = node.parent
    return x0, y0, x1, y1


def _ink_center(path: Path, widget: Any) -> float:
    """Return the mean x (window pixels) of the text drawn inside a widget's box."""
    x0, y0, x1, y1 = _shown_box(widget)
    # Pixels of a box the form clips away belong to whatever is drawn there (the top bar).
    assert (x1 - x0, y1 - y0) == (widget.width, widget.height), f"{widget.text!r} is hidden"
    with Image.open(path) as image:
        rgb = image.convert("L")
        height = rgb.height
        box = (int(x0), int(height - y1), int(x1), int(height - y0))
        crop = rgb.crop(box)
    background = crop.getpixel((1, 1))
    columns = [
        x
        for x in range(crop.width)
        for y in range(0, crop.height, 2)
        if abs(crop.getpixel((x, y)) - background) > 60
    ]
    assert columns, "no text drawn"
    return float(x0) + sum(columns) / len(columns)


def _clock_overruns(caplog: pytest.LogCaptureFixture) -> int:
    """Count the frames the Clock gave up on because callbacks kept scheduling more."""
    return sum("too much iteration" in record.getMessage() for record in caplog.records)


def _changes_while_idle(ui: Any, root: Any, frames: int = 3) -> list[str]:
    """Run frames with nothing happening; return what moved or was redrawn under `root`."""
    changes: list[str] = []
    bound = []
    for widget in root.walk(restrict=True):
        for name in ("pos", "size", "font_size", "texture_size"):
            if widget.property(name, quiet=True) is None:
                continue

            def changed(*_args: Any, widget: Any = widget, name: str = name) -> None:
                changes.append(f"{type(widget).__name__}.{name}")

            widget.fbind(name, changed)
            bound.append((widget, name, changed))
    try:
        ui.pump(frames)
    finally:
        for widget, name, callback in bound:
            widget.funbind(name, callback)
    return changes


def test_arabic_mirrors_the_layout_and_aligns_text_right(
    six: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ui = six
    width = ui.window.width
    for lang in ("en", "ar"):
        checkin = _show(ui, "checkin", lang)
        back = checkin.ids.back
        nxt = checkin.ids.next
        assert back.text == i18n._("Back", lang)
        label = next(
            w
            for w in checkin.walk(restrict=True)
            if getattr(w, "text", None) == i18n._("Your last name", lang)
        )
        # With the keyboard up, the 800x480 form keeps the field typed in and its error in
        # view and the label goes under the top bar: put the keyboard away to read it.
        checkin.ids.last_name.focus = False
        ui.pump_until(lambda: not ui.app.keyboard.visible)
        path = ui.screenshot(f"i18n-rtl-checkin-{lang}")
        if lang == "ar":
            assert _window_center_x(back) > width / 2 > _window_center_x(nxt)
            assert _ink_center(path, label) > label.to_window(label.center_x, 0)[0]
        else:
            assert _window_center_x(back) < width / 2 < _window_center_x(nxt)
            assert _ink_center(path, label) < label.to_window(label.center_x, 0)[0]
    welcome = _show(ui, "welcome", "ar")
    # The main choice (check in) comes first in reading order: on the right.
    assert _window_center_x(welcome.ids.check_in) > _window_center_x(welcome.ids.rate)
    ui.screenshot("i18n-rtl-welcome-ar")
    # Mirroring, fitting the language names and the row's layout settle: frames later
    # nothing in the row moves, and the Clock never had to give up on a frame.
    assert _changes_while_idle(ui, welcome.ids.welcome_languages) == []
    assert _clock_overruns(caplog) == 0


def _ink_runs(texture: Any) -> int:
    """Count the separate runs of inked columns in a label texture (letters not joined)."""
    width, height = texture.size
    pixels = texture.pixels
    inked = [any(pixels[(y * width + x) * 4 + 3] > 40 for y in range(height)) for x in range(width)]
    return sum(1 for x in range(width) if inked[x] and (x == 0 or not inked[x - 1]))


def test_arabic_letters_are_shaped_and_joined(six: Any) -> None:
    ui = six
    from kivy.core.text import Label as PlainCoreLabel
    from kivy.uix.label import Label

    from kiosk.textshape import display

    ui.app.set_language("ar")
    ui.pump(3)
    card = ui.app.screen("welcome").ids.check_in
    core = next(w._label for w in card.walk(restrict=True) if isinstance(w, Label) and w.text)
    assert card.text == "تسجيل الوصول"
    assert any("\ufe70" <= ch <= "\ufeff" for ch in core.text), "not in joined forms"

    word = "مستشفى"  # six letters that join one to the next
    font = ui.app.font_of("ar")
    shaped = Label(text=word, font_name=font, font_size=48)
    shaped.texture_update()
    plain = PlainCoreLabel(text=word, font_name=font, font_size=48)  # Kivy on its own
    plain.refresh()
    assert _ink_runs(shaped.texture) < _ink_runs(plain.texture)
    # Numbers and Latin names keep their order inside Arabic text.
    line = display("رقمك A012 عند Dr. Rivera")
    assert "A012" in line and "Dr. Rivera" in line
    assert line.index("Dr. Rivera") < line.index("A012")  # read from the right: A012 first
    ui.screenshot("i18n-arabic-shaped")


def _outbox(kiosk: Any, kind: str) -> list[dict[str, Any]]:
    with kiosk.db.sessions() as session:
        rows = session.scalars(select(OutboxRecord).where(OutboxRecord.kind == kind)).all()
        return [dict(r.payload) for r in rows]


def _picker(ui: Any) -> Any:
    from screens.language import LanguagePicker

    ui.pump(2)
    views = [w for w in ui.window.children if isinstance(w, LanguagePicker)]
    assert views, "the language list did not open"
    return views[0]


def test_interpreter_asked_on_welcome_reaches_the_visit(six: Any, kiosk: Any) -> None:
    from tests.ui.test_ui_checkin import enter_identity, screen

    ui = six
    ui.tap(ui.app.screen("welcome").ids.welcome_languages.ids.interpreter)
    picker = _picker(ui)
    assert picker.mode == "interpreter"
    ui.screenshot("i18n-interpreter-picker")
    arabic = next(b for b in picker.ids.grid.children if b.lang == "ar")
    ui.tap(arabic)
    assert ui.app.session.interpreter_language == "ar"
    assert ui.app.lang == "ar"  # the screens follow when the kiosk offers that language
    assert picker.ids.title.text == "تم طلب مترجم فوري: العربية."
    ui.screenshot("i18n-interpreter-requested-ar")
    ui.tap(picker.ids.close)
    ui.pump(2)

    # Grace Lindqvist is checked in already (demo): her earlier visit gets the request.
    before = len(_outbox(kiosk, "contact_update"))
    enter_identity(ui, "Lindqvist", date(1992, 2, 29))
    ui.press_enter()
    ui.pump_until(lambda: ui.app.manager.current == "receipt")
    receipt = screen(ui, "receipt")
    updates = _outbox(kiosk, "contact_update")
    assert len(updates) == before + 1
    assert updates[-1]["interpreter_language"] == "ar"
    assert updates[-1]["check_in_id"] == str(ui.app.session.receipt.check_in_id)

    # On the receipt the top bar's button asks again for another language: one more record.
    interpreter = ui.app.top_bar.ids.interpreter
    assert interpreter.opacity == 1 and interpreter.text == "أحتاج إلى مترجم فوري"
    ui.tap(interpreter)
    picker = _picker(ui)
    ui.tap(next(b for b in picker.ids.grid.children if b.lang == "ru"))
    updates = _outbox(kiosk, "contact_update")
    assert [u.get("interpreter_language") for u in updates[-2:]] == ["ar", "ru"]
    ui.tap(picker.ids.close)
    assert receipt.name == "receipt"
