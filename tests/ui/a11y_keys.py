"""Drive the kiosk with key events only (a 12-key keypad, a keyboard) and read what it said."""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.core.window import Window

from kiosk import speech

#: Keypad keys as a USB 12-key keypad sends them (Kivy keycodes, text).
KEYPAD = {
    **{str(n): (256 + n, str(n)) for n in range(10)},
    "*": (268, "*"),
    "#": (35, "#"),
    "enter": (271, None),
}
KEYBOARD = {"tab": 9, "enter": 13, "escape": 27, "up": 273, "down": 274, "space": 32}


class FakeTime:
    """A clock for multi-tap: the test says when a letter is finished."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Keys:
    """Press keys in the real window; read the speaker's log."""

    def __init__(self, ui: Any, wav_dir: Path) -> None:
        self.ui = ui
        self.access = ui.app.access
        self.clock = FakeTime()
        self.access.multitap.now = self.clock
        self.wav_dir = wav_dir
        self.mark = 0

    # --- keys -------------------------------------------------------------------------------
    def _press(self, code: int, text: str | None, modifiers: list[str] | None = None) -> None:
        handled = Window.dispatch("on_key_down", code, 0, text, modifiers or [])
        if text and text.isprintable():
            Window.dispatch("on_textinput", text)  # SDL sends the text after the key
        Window.dispatch("on_key_up", code, 0)
        del handled
        self.ui.pump(2)

    def pad(self, *keys: str) -> None:
        """Press keypad keys ("0"-"9", "*", "#", "enter")."""
        for key in keys:
            code, text = KEYPAD[key]
            self._press(code, text)

    def key(self, name: str, modifiers: list[str] | None = None) -> None:
        """Press a keyboard key by name (tab, enter, escape, up, down, space)."""
        text = " " if name == "space" else None
        self._press(KEYBOARD[name], text, modifiers)

    def type_keyboard(self, text: str) -> None:
        """Type on a hardware keyboard (each character's key, then its text)."""
        for ch in text:
            self._press(ord(ch.lower()) if ch.isascii() else 0, ch)

    def pad_letters(self, word: str, lang: str = "en") -> None:
        """Type letters by multi-tap on the keypad (as on a phone)."""
        self.access.multitap.lang = lang
        previous = ""
        for ch in word.lower():
            digit = next(d for d in "0123456789" if ch in speech.multitap_letters(d, lang))
            if digit == previous:
                self.clock.t += 5  # wait for the letter to be taken before the same key
            presses = speech.multitap_letters(digit, lang).index(ch) + 1
            for _ in range(presses):
                self.pad(digit)
                self.clock.t += 0.3
            previous = digit
        self.clock.t += 5

    def pad_to(self, widget: Any, limit: int = 40) -> None:
        """Press 8 (next) until `widget` has the focus; every move is spoken."""
        for _ in range(limit):
            if self.access.focused == widget:
                return
            self.pad("8")
        raise AssertionError(f"{widget!r} never took the focus")

    def tab_to(self, widget: Any, limit: int = 40) -> None:
        """Press Tab until `widget` has the focus."""
        for _ in range(limit):
            if self.access.focused == widget:
                return
            self.key("tab")
        raise AssertionError(f"{widget!r} never took the focus")

    # --- speech -----------------------------------------------------------------------------
    def said(self) -> list[speech.Utterance]:
        """Return what was said since the last call, once the engine has rendered it."""
        self.ui.pump(3)
        speaker = self.access.speaker
        assert speaker.wait_idle(15), "the speech engine did not finish"
        log = list(speaker.log)
        new = log[self.mark :]
        self.mark = len(log)
        return new

    def expect(self, *fragments: str, lang: str | None = None) -> list[speech.Utterance]:
        """Assert that each fragment was said since the last check, in `lang`, with sound."""
        new = self.said()
        spoken = [u for u in new if u.kind == "speech"]
        text = " | ".join(u.text for u in spoken)
        for fragment in fragments:
            assert fragment in text, f"{fragment!r} not said; said: {text!r}"
        if lang is not None:
            assert spoken and all(u.lang == lang for u in spoken), [(u.lang, u.text) for u in new]
        heard = [u for u in new if not u.stopped]  # cut short by the next key: fine
        for u in heard:
            assert_audible(u)
        assert not new or heard, "everything said was cut short"
        return new

    def wait_until(self, condition: Callable[[], bool]) -> None:
        self.ui.pump_until(condition)


def assert_audible(utterance: speech.Utterance) -> None:
    """Fail unless the engine made real sound for an utterance (its WAV: length and level)."""
    if not utterance.text and utterance.kind == "speech":
        return
    path = utterance.wav_path
    assert path is not None and path.is_file(), f"no audio for {utterance.text!r}"
    with wave.open(str(path)) as wav:
        frames = wav.getnframes()
        rate = wav.getframerate()
        data = wav.readframes(frames)
    seconds = frames / rate
    import array
    import math

    samples = array.array("h")
    samples.frombytes(data)
    rms = math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))
    minimum = 0.05 if utterance.kind == "beep" else 0.2
    assert seconds >= minimum, f"{utterance.text!r}: only {seconds:.2f} s of audio"
    assert rms > 300, f"{utterance.text!r}: silent (RMS {rms:.0f})"
