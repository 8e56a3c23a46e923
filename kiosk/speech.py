"""Speech output for patients who cannot see the screen: engine, voices, what is said.

No Kivy here. The app calls `Speaker.say()` from the UI thread; a worker thread runs the
offline engine (espeak-ng, Debian package) in a subprocess, streams its audio to the
player (`aplay`, alsa-utils), and keeps a log of what was said, in which language, and
how loud and long the audio was. `say()` only queues: it never waits for the engine.

A new utterance interrupts the one playing (the patient moved on); `queue=True` appends
instead (the parts of one screen). Tests and the bench read `Speaker.log`; with `wav_dir`
set, every utterance is also written as a WAV file, the audio the player would have played.
"""

from __future__ import annotations

import array
import logging
import math
import os
import queue
import shutil
import subprocess
import threading
import time
import wave
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.i18n import _

log = logging.getLogger(__name__)

N_ = str  # marks msgids for extraction; translated where spoken

#: Kiosk language code -> espeak-ng voice. The one table: a language added to the kiosk
#: speaks once its voice is here (espeak-ng --voices lists them).
VOICES: dict[str, str] = {
    "en": "en-us",
    "es": "es-419",
    "zh": "cmn",
    "vi": "vi",
    "ar": "ar",
    "ru": "ru",
}
FALLBACK_VOICE = "en-us"

#: espeak-ng amplitudes (0-200) the volume keys step through; the default sits in the middle.
VOLUME_LEVELS: tuple[int, ...] = (40, 60, 80, 100, 125, 150, 175, 200)
DEFAULT_VOLUME_INDEX = 3
#: Words per minute: a little slower than espeak's 175 for a noisy waiting room.
RATE_WPM = 160
#: espeak-ng --stdout: 16-bit mono PCM at 22,050 Hz after a 44-byte WAV header.
SAMPLE_RATE = 22050
WAV_HEADER_BYTES = 44

#: Keypad multi-tap (ITU E.161, the letters printed on phone keys): digit -> letters.
MULTITAP: dict[str, str] = {
    "1": "-'",
    "2": "abc",
    "3": "def",
    "4": "ghi",
    "5": "jkl",
    "6": "mno",
    "7": "pqrs",
    "8": "tuv",
    "9": "wxyz",
    "0": " ",
}
#: Spanish names may need ñ: it follows n on key 6 there.
MULTITAP_EXTRA: dict[str, dict[str, str]] = {"es": {"6": "mnoñ"}}

#: Characters spoken by name (espeak reads a lone letter as its name already).
CHAR_NAMES: dict[str, str] = {
    " ": N_("space"),
    "-": N_("hyphen"),
    "'": N_("apostrophe"),
    "@": N_("at"),
    ".": N_("dot"),
}

KEYPAD_HELP = N_(
    "Keypad: 2 and 8 move between items, 5 or Enter selects, star goes back, "
    "hash repeats, 0 is help, 1 and 3 change the volume."
)
KEYBOARD_HELP = N_(
    "Keyboard: Tab and the arrow keys move between items, Enter selects, Escape goes back."
)
TYPING_HELP = N_(
    "In a name field press a number key once, twice or more for its letters, as on a "
    "phone: 2 for A B C, 0 for a space. Star deletes. Enter moves on."
)
START_HINT = N_("For speech, press any key on the keypad.")
SPEECH_ON = N_("Speech is on.")
STILL_THERE = N_(
    "Are you still there? This screen will clear in {seconds} seconds. Press any key to continue."
)
VOLUME_SAID = N_("Volume {level} of {levels}")


def voice_for(lang: str) -> str:
    """Return the espeak-ng voice of a kiosk language (its base language's, else English)."""
    return VOICES.get(lang) or VOICES.get(lang.split("_")[0].split("-")[0]) or FALLBACK_VOICE


def spoken_char(char: str, lang: str) -> str:
    """Return what to say for one character typed (a letter is said as itself)."""
    name = CHAR_NAMES.get(char)
    return _(name, lang) if name else char


def multitap_letters(digit: str, lang: str) -> str:
    """Return the letters a keypad digit cycles through in a language."""
    return MULTITAP_EXTRA.get(lang, {}).get(digit) or MULTITAP.get(digit, "")


@dataclass
class MultiTap:
    """Letters from a 12-key keypad, as on a phone: press 2 twice for "b".

    `press(digit)` returns (replace_last, letter): a press of the same key within
    `timeout` replaces the letter just typed with the next on that key.
    """

    lang: str = "en"
    timeout: float = 1.2
    now: Callable[[], float] = time.monotonic
    _key: str = ""
    _index: int = 0
    _at: float = -1e9

    def press(self, digit: str) -> tuple[bool, str]:
        letters = multitap_letters(digit, self.lang)
        if not letters:
            return False, ""
        now = self.now()
        again = digit == self._key and now - self._at <= self.timeout
        self._index = (self._index + 1) % len(letters) if again else 0
        self._key, self._at = digit, now
        return again, letters[self._index]

    def commit(self) -> None:
        """End the letter being chosen (another key, a delete, a move)."""
        self._key = ""


@dataclass
class Utterance:
    """One thing said (or beeped), with what the engine made of it."""

    text: str
    lang: str
    voice: str
    volume: int
    kind: str = "speech"  # "speech" | "beep"
    requested_at: float = 0.0
    first_audio_at: float | None = None
    finished_at: float | None = None
    samples: int = 0
    rms: float = 0.0  # root mean square of the samples, 0..32767
    peak: int = 0
    stopped: bool = False  # interrupted before its end
    wav_path: Path | None = None
    generation: int = 0
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def seconds(self) -> float:
        return self.samples / SAMPLE_RATE

    @property
    def start_ms(self) -> float | None:
        """Return the time from the request to the first audio sample, in ms."""
        if self.first_audio_at is None:
            return None
        return (self.first_audio_at - self.requested_at) * 1000


def beep_pcm(volume: int, *, hz: float = 880.0, seconds: float = 0.08) -> bytes:
    """Return a short tone as 16-bit mono PCM (a PIN digit typed: heard, not said)."""
    amplitude = int(9000 * volume / 100)
    count = int(SAMPLE_RATE * seconds)
    fade = max(1, int(SAMPLE_RATE * 0.005))
    samples = array.array("h")
    for n in range(count):
        edge = min(1.0, n / fade, (count - n) / fade)
        samples.append(int(amplitude * edge * math.sin(2 * math.pi * hz * n / SAMPLE_RATE)))
    return samples.tobytes()


def default_player() -> list[str] | None:
    """Return the command that plays raw PCM on the kiosk's speaker (None: no player)."""
    if shutil.which("aplay") is None:
        return None
    return ["aplay", "-q", "-t", "raw", "-f", "S16_LE", "-r", str(SAMPLE_RATE), "-c", "1"]


class Speaker:
    """Say texts in a worker thread with espeak-ng; interrupt, volume, log."""

    def __init__(
        self,
        *,
        engine: str | None = None,
        player: list[str] | None | str = "auto",
        wav_dir: Path | None = None,
        clock: Callable[[], float] = time.perf_counter,
        log_size: int = 500,
        on_audio: Callable[[Utterance], None] | None = None,
    ) -> None:
        self.engine = engine or shutil.which("espeak-ng") or "espeak-ng"
        self.player = default_player() if player == "auto" else player
        self.wav_dir = wav_dir
        self.clock = clock
        self.log: deque[Utterance] = deque(maxlen=log_size)
        self.on_audio = on_audio
        self.volume_index = DEFAULT_VOLUME_INDEX
        self._queue: queue.Queue[Utterance | None] = queue.Queue()
        self._lock = threading.Lock()
        self._generation = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._player_process: subprocess.Popen[bytes] | None = None
        self._player_broken = False
        self._counter = 0
        self._thread = threading.Thread(target=self._run, name="speech", daemon=True)
        self._thread.start()

    # --- volume -----------------------------------------------------------------------------
    @property
    def volume(self) -> int:
        return VOLUME_LEVELS[self.volume_index]

    def volume_up(self) -> int:
        self.volume_index = min(len(VOLUME_LEVELS) - 1, self.volume_index + 1)
        return self.volume_index

    def volume_down(self) -> int:
        self.volume_index = max(0, self.volume_index - 1)
        return self.volume_index

    def reset_volume(self) -> None:
        """Back to the default (every patient session starts there)."""
        self.volume_index = DEFAULT_VOLUME_INDEX

    # --- speaking ---------------------------------------------------------------------------
    def say(self, text: str, lang: str, *, queue: bool = False, kind: str = "speech") -> Utterance:
        """Say `text` in `lang`; stop what is being said unless `queue`. Never waits."""
        with self._lock:
            if not queue:
                self._interrupt_locked()
            item = Utterance(
                text=text,
                lang=lang,
                voice=voice_for(lang),
                volume=self.volume,
                kind=kind,
                requested_at=self.clock(),
                generation=self._generation,
            )
            self.log.append(item)
        self._queue.put(item)
        return item

    def beep(self, lang: str = "en") -> Utterance:
        """Play a short tone, queued after what is being said."""
        return self.say("", lang, queue=True, kind="beep")

    def stop(self) -> None:
        """Stop speaking now and drop everything queued."""
        with self._lock:
            self._interrupt_locked()

    def clear_log(self) -> None:
        """Forget what was said (it may hold letters a patient typed)."""
        with self._lock:
            self.log.clear()

    def close(self) -> None:
        """Stop the worker (the app is closing)."""
        self.stop()
        self._queue.put(None)
        self._thread.join(timeout=2)
        self._close_player()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until everything said so far has been rendered (tests, bench)."""
        deadline = time.monotonic() + timeout
        return all(item.done.wait(max(0.0, deadline - time.monotonic())) for item in list(self.log))

    def _interrupt_locked(self) -> None:
        self._generation += 1
        for item in self.log:
            if not item.done.is_set():
                item.stopped = True
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
        self._close_player()

    # --- worker -----------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                if item.generation != self._generation:
                    item.stopped = True
                elif item.kind == "beep":
                    self._play_beep(item)
                else:
                    self._speak(item)
            except Exception:  # speech must never take the kiosk down
                log.exception("speech engine failed")
                item.stopped = True
            finally:
                item.finished_at = self.clock()
                item.done.set()

    def _speak(self, item: Utterance) -> None:
        command = [
            self.engine,
            "-v",
            item.voice,
            "-a",
            str(item.volume),
            "-s",
            str(RATE_WPM),
            "--stdin",
            "--stdout",
        ]
        with self._lock:
            if item.generation != self._generation:
                item.stopped = True
                return
            process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
            self._process = process
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(item.text.encode("utf-8"))
            process.stdin.close()
        except OSError:
            pass
        pcm = bytearray()
        header = b""
        fd = process.stdout.fileno()
        while True:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            if len(header) < WAV_HEADER_BYTES:
                need = WAV_HEADER_BYTES - len(header)
                header += chunk[:need]
                chunk = chunk[need:]
                if not chunk:
                    continue
            self._audio(item, chunk, pcm)
        process.wait()
        with self._lock:
            if self._process is process:
                self._process = None
            if item.generation != self._generation:
                item.stopped = True
        self._finish(item, bytes(pcm))

    def _play_beep(self, item: Utterance) -> None:
        pcm = bytearray()
        self._audio(item, beep_pcm(item.volume), pcm)
        self._finish(item, bytes(pcm))

    def _audio(self, item: Utterance, chunk: bytes, pcm: bytearray) -> None:
        """Hand a chunk of PCM to the player (and keep it for the log)."""
        if item.first_audio_at is None:
            item.first_audio_at = self.clock()
            if self.on_audio is not None:
                self.on_audio(item)
        pcm += chunk
        self._play(chunk)

    def _finish(self, item: Utterance, pcm: bytes) -> None:
        usable = pcm[: len(pcm) - len(pcm) % 2]
        item.samples = len(usable) // 2
        if self.wav_dir is None:
            return  # levels are for the tests' WAV checks: no per-sample work when playing
        samples = array.array("h")
        samples.frombytes(usable)
        if samples:
            item.rms = math.sqrt(sum(s * s for s in samples) / len(samples))
            item.peak = max(abs(min(samples)), max(samples))
        if samples:
            with self._lock:
                self._counter += 1
                number = self._counter
            path = Path(self.wav_dir) / f"utterance-{number:04d}-{item.lang}-{item.kind}.wav"
            with wave.open(str(path), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(SAMPLE_RATE)
                out.writeframes(usable)
            item.wav_path = path

    # --- player -----------------------------------------------------------------------------
    def _play(self, chunk: bytes) -> None:
        if self.player is None or self._player_broken:
            return
        with self._lock:
            process = self._player_process
            if process is None or process.poll() is not None:
                try:
                    process = subprocess.Popen(
                        self.player,
                        stdin=subprocess.PIPE,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                except OSError:
                    log.warning("no audio player: speech is rendered but not played")
                    self._player_broken = True
                    return
                self._player_process = process
        try:
            assert process.stdin is not None
            process.stdin.write(chunk)
            process.stdin.flush()
        except (BrokenPipeError, OSError):
            if self._player_process is process:  # it died by itself, not interrupted
                log.warning("the audio player stopped (no sound card?)")
                self._player_broken = True

    def _close_player(self) -> None:
        process = self._player_process
        self._player_process = None
        if process is not None and process.poll() is None:
            process.kill()
