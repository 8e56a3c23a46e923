"""The speech engine without Kivy: voices, multi-tap, interrupting, volume, real audio."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import pytest

from kiosk import speech

if shutil.which("espeak-ng") is None:  # a missing engine is a broken set-up, not a skip
    raise RuntimeError("espeak-ng is not installed (scripts/setup.sh installs it)")


def test_every_kiosk_language_has_an_installed_voice() -> None:
    listed = subprocess.run(
        ["espeak-ng", "--voices"], capture_output=True, text=True, check=True
    ).stdout
    names = {line.split()[1] for line in listed.splitlines()[1:] if line.split()}
    for lang in ("en", "es", "zh", "vi", "ar", "ru"):
        assert speech.voice_for(lang) in names, lang
    assert speech.voice_for("es_MX") == speech.VOICES["es"]
    assert speech.voice_for("xx") == speech.FALLBACK_VOICE


def test_multitap_cycles_letters_and_a_pause_starts_a_new_one() -> None:
    now = [0.0]
    tap = speech.MultiTap(now=lambda: now[0])
    assert tap.press("2") == (False, "a")
    now[0] += 0.3
    assert tap.press("2") == (True, "b")
    now[0] += 0.3
    assert tap.press("2") == (True, "c")
    now[0] += 0.3
    assert tap.press("2") == (True, "a")  # round again
    now[0] += 2
    assert tap.press("2") == (False, "a")  # too late: a new letter
    assert tap.press("3") == (False, "d")
    tap.commit()
    assert tap.press("3") == (False, "d")
    assert speech.multitap_letters("6", "es") == "mnoñ"
    assert speech.multitap_letters("0", "en") == " "


@pytest.mark.parametrize(("lang", "text"), [("en", "Check in"), ("es", "Registrarse")])
def test_speech_is_rendered_as_real_audio_in_each_language(
    tmp_path: Path, lang: str, text: str
) -> None:
    speaker = speech.Speaker(player=None, wav_dir=tmp_path)
    try:
        item = speaker.say(text, lang)
        assert speaker.wait_idle(10)
    finally:
        speaker.close()
    assert item.lang == lang and item.voice == speech.voice_for(lang)
    assert item.wav_path is not None
    with wave.open(str(item.wav_path)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    assert 0.3 < seconds < 5
    assert item.rms > 300 and item.start_ms is not None


def test_say_returns_at_once_and_a_new_utterance_interrupts(tmp_path: Path) -> None:
    # The engine is held until the gate file exists: say() returning while nothing has been
    # rendered shows the UI thread never waits for speech (no timing threshold needed).
    gate = tmp_path / "gate"
    engine = tmp_path / "held-espeak"
    espeak = shutil.which("espeak-ng")
    engine.write_text(
        f'#!/bin/sh\nwhile [ ! -e "{gate}" ]; do sleep 0.01; done\nexec {espeak} "$@"\n'
    )
    engine.chmod(0o755)
    speaker = speech.Speaker(engine=str(engine), player=None, wav_dir=tmp_path)
    try:
        first = speaker.say("This is a long sentence about the parking and the hours " * 5, "en")
        second = speaker.say("Stop.", "en")
        assert not first.done.is_set() and not second.done.is_set()
        assert first.stopped  # the second utterance interrupted the first
        gate.touch()
        assert speaker.wait_idle(10)
        assert second.samples > 0 and not second.stopped
        assert first.stopped or first.samples > 0  # cut, or rendered before the cut
        queued = speaker.say("One.", "en")
        after = speaker.say("Two.", "en", queue=True)
        assert speaker.wait_idle(10)
        assert queued.samples and after.samples and not after.stopped
    finally:
        speaker.close()


def test_volume_steps_and_returns_to_the_default(tmp_path: Path) -> None:
    speaker = speech.Speaker(player=None, wav_dir=tmp_path)
    try:
        default = speaker.volume
        speaker.volume_up()
        speaker.volume_up()
        loud = speaker.say("Volume", "en")
        speaker.reset_volume()
        normal = speaker.say("Volume", "en", queue=True)
        for _ in range(20):
            speaker.volume_up()
        assert speaker.volume == speech.VOLUME_LEVELS[-1]
        assert speaker.wait_idle(10)
    finally:
        speaker.close()
    assert loud.volume > default == normal.volume
    assert loud.rms > normal.rms  # louder for real, not only a number


def test_a_pin_digit_is_a_beep_not_words(tmp_path: Path) -> None:
    speaker = speech.Speaker(player=None, wav_dir=tmp_path)
    try:
        beep = speaker.beep()
        assert speaker.wait_idle(5)
    finally:
        speaker.close()
    assert beep.kind == "beep" and beep.text == ""
    assert 0.05 <= beep.seconds <= 0.2 and beep.rms > 1000
