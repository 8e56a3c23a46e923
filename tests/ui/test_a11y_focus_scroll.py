"""Keys move the focus through lists longer than the screen: the list scrolls with it.

The frequent questions are a RecycleView taller than its place on an 800x480 screen; the
rating form's lower controls sit below its visible area; an answer longer than its place
has no control in it, and Up/Down (keypad 2/8) scroll it once the focus is on it. Moving
the focus with Tab, the arrows or the keypad must bring every control whole into view (it
used to stop at the rows already on screen and jump to Back, or leave the focus ring under
the bottom bar). Only key events here, in the real window; the focus ring is looked for in
screenshots.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from a11y_keys import Keys
from PIL import Image
from test_a11y_keyboard_idle import RING, screen

pytestmark = pytest.mark.ui

if shutil.which("espeak-ng") is None:  # a missing engine is a broken set-up, not a skip
    raise RuntimeError("espeak-ng is not installed (scripts/setup.sh installs it)")


def window_box(widget: Any) -> tuple[float, float, float, float]:
    """Return a widget's (left, bottom, right, top) in window coordinates."""
    x, y = widget.to_window(widget.x, widget.y)
    return x, y, x + widget.width, y + widget.height


def assert_within(widget: Any, area: Any) -> None:
    """Fail unless all of `widget` lies inside `area` (a list's visible part, a form)."""
    left, bottom, right, top = window_box(widget)
    a_left, a_bottom, a_right, a_top = window_box(area)
    assert a_left - 0.5 <= left and right <= a_right + 0.5, (window_box(widget), window_box(area))
    assert a_bottom - 0.5 <= bottom and top <= a_top + 0.5, (window_box(widget), window_box(area))


def ring_pixels(path: Path, widget: Any) -> int:
    """Count focus-ring pixels in a band round a widget in a screenshot."""
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        height = rgb.height
        left, bottom, right, top = window_box(widget)
        box = (
            max(0, int(left) - 8),
            max(0, int(height - top) - 8),
            min(rgb.width, int(right) + 8),
            min(height, int(height - bottom) + 8),
        )
        region = rgb.crop(box)
        return sum(
            n
            for n, c in region.getcolors(1 << 20) or []
            if all(abs(a - b) <= 40 for a, b in zip(c, RING, strict=True))
        )


def row_index(rows: Any, widget: Any) -> int | None:
    """Return the data index of the FAQ row a widget shows, None if it is no row."""
    index = rows.layout_manager.view_indices.get(widget)
    return None if index is None else int(index)


def open_questions(ui: Any, keys: Keys) -> Any:
    keys.tab_to(screen(ui, "welcome").ids.ask)
    keys.key("enter")
    questions = screen(ui, "questions")
    ui.pump(3)
    return questions


def test_tab_and_arrows_scroll_the_faq_list_to_every_entry(ui: Any, keys: Keys) -> None:
    questions = open_questions(ui, keys)
    rows = questions.ids.faq_list
    entries = [item["text"] for item in rows.data]
    # The test means something only if the list does not fit: more rows than shown.
    assert rows.layout_manager.height > rows.height + 50, "the FAQ list fits: nothing to scroll"
    assert len(rows.layout_manager.view_indices) < len(entries)
    assert rows.scroll_y == 1  # the top of the list shows first

    keys.tab_to(questions.faq_buttons()[0])
    for index, text in enumerate(entries):
        if index:
            keys.key("down" if index % 2 else "tab")  # arrows and Tab move alike
        focused = keys.access.focused
        assert row_index(rows, focused) == index, f"row {index}: focus on {focused!r}"
        assert focused.text == text
        assert_within(focused, rows)
    assert rows.scroll_y < 0.05, "the list never scrolled to its end"
    last = keys.access.focused
    shot = ui.screenshot("a11y_focus_scroll_faq_last")
    assert ring_pixels(shot, last) > 200, "no focus ring round the last question on screen"

    keys.key("tab")  # past the last question: the next control after the list
    assert keys.access.focused == questions.ids.back
    keys.key("tab", ["shift"])  # back into the list from below: at its last row
    assert row_index(rows, keys.access.focused) == len(entries) - 1
    assert_within(keys.access.focused, rows)

    # Up through the list to its top, then out of it above.
    for index in reversed(range(len(entries) - 1)):
        keys.key("up")
        focused = keys.access.focused
        assert row_index(rows, focused) == index
        assert_within(focused, rows)
    assert rows.scroll_y > 0.95
    keys.key("up")
    assert row_index(rows, keys.access.focused) is None
    keys.key("down")
    first = keys.access.focused
    assert row_index(rows, first) == 0
    ui.pump(2)
    shot = ui.screenshot("a11y_focus_scroll_faq_first")
    assert ring_pixels(shot, first) > 200


def test_keypad_reads_and_scrolls_the_faq_list_in_speech_mode(ui: Any, keys: Keys) -> None:
    keys.pad("#")  # speech on
    keys.said()
    welcome = screen(ui, "welcome")
    keys.pad_to(welcome.ids.ask)
    keys.pad("5")
    questions = screen(ui, "questions")
    keys.said()
    rows = questions.ids.faq_list
    entries = [item["text"] for item in rows.data]
    keys.pad_to(questions.faq_buttons()[0])
    keys.said()
    for index in range(1, len(entries)):
        keys.pad("8")
        focused = keys.access.focused
        assert row_index(rows, focused) == index
        assert_within(focused, rows)
        keys.expect(f"{entries[index]}, button", lang="en")
    keys.pad("5")  # the last question, scrolled into view, is the one answered
    keys.wait_until(lambda: bool(questions.answer))
    assert questions.selected_question == entries[-1]
    keys.expect(questions.answer[:30])
    shot = ui.screenshot("a11y_focus_scroll_faq_answer")
    assert ring_pixels(shot, keys.access.focused) > 200


def test_a_control_below_a_form_is_shifted_into_view(ui: Any, keys: Keys) -> None:
    keys.tab_to(screen(ui, "welcome").ids.rate)
    keys.key("enter")
    rate = screen(ui, "rate")
    keys.tab_to(rate.face(4))
    keys.key("enter")
    details = screen(ui, "rate_details")
    ui.pump(3)
    consent = details.ids.consent
    form = consent.parent
    while type(form).__name__ != "FormArea":
        form = form.parent
    keys.tab_to(consent)
    assert_within(consent, form)
    shot = ui.screenshot("a11y_focus_scroll_form")
    assert ring_pixels(shot, consent) > 200
    keys.key("space")  # the toggle pressed by key, in view
    assert details.consent
    first = list(reversed(details.ids.would_recommend.ids.buttons.children))[0]
    keys.tab_to(first)  # on round to the form's top: the form shows its top again
    assert_within(first, form)


def test_a_row_swiped_out_of_view_keeps_the_focus_by_its_place(ui: Any, keys: Keys) -> None:
    questions = open_questions(ui, keys)
    rows = questions.ids.faq_list
    entries = [item["text"] for item in rows.data]
    keys.tab_to(questions.faq_buttons()[0])
    for _ in range(len(entries) - 2):
        keys.key("down")
    assert row_index(rows, keys.access.focused) == len(entries) - 2
    rows.scroll_y = 1  # the list swiped back to its top by hand: the row is out of view
    ui.pump(4)
    assert rows.scroll_y == 1, "a swipe by hand is not undone"
    keys.key("down")  # on from the row in focus, not from what its old widget shows now
    focused = keys.access.focused
    assert row_index(rows, focused) == len(entries) - 1
    assert focused.text == entries[-1]
    assert_within(focused, rows)
    rows.scroll_y = 1
    ui.pump(4)
    keys.key("enter")  # the row in focus is the one pressed, scrolled back into view
    ui.pump_until(lambda: bool(questions.answer))
    assert questions.selected_question == entries[-1]
    assert_within(keys.access.focused, rows)


def test_the_next_patient_sees_the_faq_list_from_its_top(ui: Any, keys: Keys) -> None:
    questions = open_questions(ui, keys)
    rows = questions.ids.faq_list
    keys.tab_to(questions.faq_buttons()[0])
    for _ in range(len(rows.data) - 1):
        keys.key("down")
    assert rows.scroll_y < 0.05
    ui.app.end_session()  # the patient leaves (the idle reset does the same)
    ui.pump(2)
    questions = open_questions(ui, keys)
    assert rows.scroll_y == 1
    assert row_index(rows, questions.faq_buttons()[0]) == 0


#: A synthetic answer several times longer than its place on the questions screen.
LONG_ANSWER = " ".join(
    f"Point {n}: bring the letter from your care team and show it at the front desk."
    for n in range(1, 19)
)


@pytest.fixture
def long_answer(kiosk: Any) -> Iterator[str]:
    """An FAQ entry, last in the list, whose answer is longer than the place it has."""
    from kiosk.models import FaqRow

    key = ("long-answer-test", "en")
    with kiosk.db.write() as session:
        session.add(
            FaqRow(
                id=key[0],
                language=key[1],
                question="What do I bring to a first visit?",
                answer=LONG_ANSWER,
                position=99,
            )
        )
    yield LONG_ANSWER
    with kiosk.db.write() as session:
        session.delete(session.get(FaqRow, key))


def test_up_and_down_scroll_an_answer_longer_than_its_place(
    ui: Any, keys: Keys, long_answer: str
) -> None:
    questions = open_questions(ui, keys)
    rows = questions.ids.faq_list
    view = questions.ids.answer_view
    keys.tab_to(questions.faq_buttons()[0])
    for _ in range(len(rows.data) - 1):
        keys.key("down")
    keys.key("enter")
    ui.pump_until(lambda: questions.answer == long_answer)
    # The test means something only if the answer does not fit (its lines take a few frames
    # to be laid out): more than twice the height of its place.
    ui.pump_until(lambda: view.children[0].height > 2 * view.height)
    assert view.scroll_y == 1  # a new answer shows from its top

    keys.key("tab")  # past the last question: the answer, a stop of its own
    assert keys.access.focused == view
    shot = ui.screenshot("a11y_focus_scroll_answer_top")
    assert ring_pixels(shot, view) > 200, "no focus ring round the answer"

    positions = [view.scroll_y]
    for _ in range(20):
        keys.key("down")
        if keys.access.focused != view:
            break
        positions.append(view.scroll_y)
    assert len(positions) >= 3, positions  # more than one step: a long text, read in parts
    assert positions == sorted(positions, reverse=True) and len(set(positions)) == len(positions)
    assert positions[-1] == 0, "the end of the answer never showed"
    assert keys.access.focused == questions.ids.back  # once its end shows, Down moves on

    keys.key("up")  # back onto the answer from below: its end still shows
    assert keys.access.focused == view
    assert view.scroll_y == 0
    shot = ui.screenshot("a11y_focus_scroll_answer_end")
    assert ring_pixels(shot, view) > 200
    keys.key("up")
    assert 0 < view.scroll_y < 1
    keys.key("tab")  # Tab moves on at once, wherever the text is
    assert keys.access.focused == questions.ids.back
    keys.key("tab", ["shift"])
    assert keys.access.focused == view


def test_keypad_scrolls_and_reads_an_answer_longer_than_its_place(
    ui: Any, keys: Keys, long_answer: str
) -> None:
    keys.pad("#")  # speech on
    keys.said()
    keys.pad_to(screen(ui, "welcome").ids.ask)
    keys.pad("5")
    questions = screen(ui, "questions")
    rows = questions.ids.faq_list
    view = questions.ids.answer_view
    keys.pad_to(questions.faq_buttons()[0])
    for _ in range(len(rows.data) - 1):
        keys.pad("8")
    keys.pad("5")
    keys.wait_until(lambda: questions.answer == long_answer)
    keys.wait_until(lambda: view.children[0].height > 2 * view.height)
    keys.said()
    keys.pad("8")  # past the last question: the answer, said whole
    assert keys.access.focused == view
    keys.expect("What do I bring to a first visit?", long_answer[:40], lang="en")
    keys.pad("8")
    assert view.scroll_y < 1
    shot = ui.screenshot("a11y_focus_scroll_answer_keypad")
    assert ring_pixels(shot, view) > 200
    keys.pad("2")
    assert view.scroll_y == 1
    keys.pad("2")  # at its top: back to the last question
    assert row_index(rows, keys.access.focused) == len(rows.data) - 1
