"""Translations: every string the kiosk can show is in the English and Spanish catalogs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from kiosk import i18n
from scripts.compile_catalogs import compile_catalogs

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
METHODS = [
    ("kiosk/**.py", "python"),
    ("screens/**.py", "python"),
    ("screens/**.kv", "python"),
]


def extracted_msgids() -> set[str]:
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=METHODS, keywords=KEYWORDS
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.add(msgid)
    return found


def catalog(lang: str) -> dict[str, object]:
    path = i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "kiosk.po"
    with path.open("rb") as handle:
        po = read_po(handle, locale=lang)
    return {m.id[0] if isinstance(m.id, tuple) else m.id: m.string for m in po if m.id}


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_shown_string_is_translated(lang: str) -> None:
    wanted = extracted_msgids()
    assert "Check in" in wanted and "Please type your last name." in wanted
    translations = catalog(lang)
    missing = sorted(m for m in wanted if not translations.get(m))
    assert not missing, f"{lang}: untranslated msgids: {missing}"


def test_facade_error_messages_are_in_the_catalogs() -> None:
    # The domain raises KioskError(msgid); the screens show _(msgid) in the patient's language.
    import importlib

    core = ("core", "checkin", "walkins", "questions", "feedback", "staff", "validation")
    modules = [importlib.import_module(f"kiosk.{name}") for name in core]
    messages = {v for m in modules for k, v in vars(m).items() if k.startswith("MSG_")}
    assert {"We could not find this visit.", "This setting cannot be changed here."} <= messages
    spanish = catalog("es")
    for msgid in messages:
        assert spanish.get(msgid), msgid


def test_placeholders_survive_translation() -> None:
    for msgid, text in catalog("es").items():
        forms = text if isinstance(text, tuple) else (text,)
        for form in forms:
            assert set(re.findall(r"{\w+}", msgid)) == set(re.findall(r"{\w+}", form)), msgid


def test_spanish_is_really_spanish() -> None:
    assert i18n._("Check in", "es") == "Registrar llegada"
    assert i18n._("Check in", "en") == "Check in"
    assert i18n._("no such message", "es") == "no such message"
    seconds = ("Starting over in {seconds} second", "Starting over in {seconds} seconds")
    assert i18n.ngettext(*seconds, 3, "es") == "Volvemos al inicio en {seconds} segundos"


def test_build_compiles_only_missing_or_stale_catalogs(tmp_path: Path) -> None:
    source = Path(str(i18n.LOCALE_DIR)) / "es" / "LC_MESSAGES" / "kiosk.po"
    po = tmp_path / "es" / "LC_MESSAGES" / "kiosk.po"
    po.parent.mkdir(parents=True)
    po.write_bytes(source.read_bytes())
    assert compile_catalogs(tmp_path) == [po.with_suffix(".mo")]
    assert compile_catalogs(tmp_path) == []  # up to date: left alone
    # From the file's own mtime, not the clock: under faketime the two disagree.
    later = po.with_suffix(".mo").stat().st_mtime + 5
    os.utime(po, (later, later))
    assert compile_catalogs(tmp_path) == [po.with_suffix(".mo")]
    assert i18n.available_languages(tmp_path) == ["es"]


def test_the_kiosk_only_reads_catalogs(tmp_path: Path) -> None:
    """Start-up never compiles: i18n has no writer, and reads the .mo the build shipped."""
    assert not hasattr(i18n, "ensure_compiled")
    shipped = Path(str(i18n.LOCALE_DIR))
    for lang in ("en", "es"):
        po = shipped / lang / "LC_MESSAGES" / "kiosk.po"
        mo = po.with_suffix(".mo")
        assert mo.is_file(), f"{mo} missing: run scripts/setup.sh (the build compiles it)"
        assert mo.stat().st_mtime >= po.stat().st_mtime, f"{mo} is older than its .po"
