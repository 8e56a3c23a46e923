"""Frequent questions to browse, and the way to ask the staff."""

from __future__ import annotations

from typing import Any

from kivy.factory import Factory
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
        """Fill the list with the FAQ entries of the current language."""
        self.entries = list(self.kiosk.faq(self.app.lang))
        box = self.ids.faq_list
        box.clear_widgets()
        for item in self.entries:
            box.add_widget(Factory.FaqButton(text=item.question, faq_id=item.id, screen=self))

    def show_answer(self, faq_id: str) -> None:
        """Show the answer of one entry."""
        for item in self.entries:
            if item.id == faq_id:
                self.selected_question = item.question
                self.answer = item.answer


load_kv(__file__)
