"""Frequent questions to browse, and the way to ask the staff."""

from __future__ import annotations

from typing import Any

from kivy.properties import ListProperty, StringProperty

from screens.base import KioskScreen, load_kv


class QuestionsScreen(KioskScreen):
    """Browse the FAQ in the language on screen; tap a question to read its answer."""

    entries = ListProperty([])
    answer = StringProperty("")
    selected_question = StringProperty("")
    patient_fields = ("answer", "selected_question")

    def on_activate(self) -> None:
        self.load_entries()
        self.app.bind(lang=self._on_lang)

    def on_deactivate(self) -> None:
        self.app.unbind(lang=self._on_lang)

    def _on_lang(self, *_args: Any) -> None:
        self.answer = self.selected_question = ""
        self.load_entries()

    def load_entries(self) -> None:
        """Fill the list with the FAQ entries of the current language.

        A RecycleView reuses its buttons: making new ones at every visit would leak them
        (their kv bindings to the app keep them alive).
        """
        entries = list(self.kiosk.faq(self.app.lang))
        if entries == self.entries:
            return
        self.entries = entries
        self.ids.faq_list.data = [
            {"text": item.question, "faq_id": item.id, "screen": self} for item in entries
        ]

    def reset(self) -> None:
        """Forget what the last patient read: the next one sees the list from its top."""
        super().reset()
        self.ids.faq_list.scroll_y = 1
        self.ids.answer_view.scroll_y = 1

    def faq_buttons(self) -> list[Any]:
        """Return the FAQ buttons on screen, top to bottom."""
        layout = self.ids.faq_list.layout_manager
        return sorted(layout.children, key=lambda button: -button.y)

    def show_answer(self, faq_id: str) -> None:
        """Show the answer of one entry."""
        for item in self.entries:
            if item.id == faq_id:
                self.selected_question = item.question
                self.answer = item.answer
                self.ids.answer_view.scroll_y = 1  # a new answer is read from its top


load_kv(__file__)
