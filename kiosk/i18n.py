"""Translations for the kiosk: gettext catalogs under assets/locale, compiled with Babel.

Catalogs live in ``assets/locale/<lang>/LC_MESSAGES/kiosk.po``; the compiled ``.mo`` files are
not versioned: ``ensure_compiled`` writes them at start when missing or older than the ``.po``.
Adding a language is adding a catalog. No Kivy import here: kv rules call ``_(msgid, lang)``
with ``app.lang`` as second argument so that they re-evaluate when the language changes.
"""

from __future__ import annotations

import gettext
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

DOMAIN = "kiosk"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "assets" / "locale"

#: Language used when no catalog matches (the msgids are English).
FALLBACK_LANGUAGE = "en"

#: Languages written right to left: their text needs a font with those glyphs.
RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur"})

_translations: dict[str, gettext.NullTranslations] = {}
_current = FALLBACK_LANGUAGE


def available_languages(locale_dir: Path = LOCALE_DIR) -> list[str]:
    """Return the language codes that ship a catalog, sorted."""
    if not locale_dir.is_dir():
        return []
    return sorted(
        p.name for p in locale_dir.iterdir() if (p / "LC_MESSAGES" / f"{DOMAIN}.po").is_file()
    )


def ensure_compiled(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """Compile every catalog whose .mo is missing or older than its .po; return those written."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written: list[Path] = []
    for lang in available_languages(locale_dir):
        po_path = locale_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        mo_path = po_path.with_suffix(".mo")
        if mo_path.is_file() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=lang)
        # Write next to the target and rename, so a crash never leaves half a catalog.
        tmp_path = mo_path.with_suffix(".mo.tmp")
        with tmp_path.open("wb") as mo_file:
            write_mo(mo_file, catalog)
        os.replace(tmp_path, mo_path)
        written.append(mo_path)
        log.info("compiled catalog %s", lang)
    _translations.clear()
    return written


def translation(lang: str) -> gettext.NullTranslations:
    """Return the (cached) translations for a language; English msgids if none."""
    found = _translations.get(lang)
    if found is None:
        found = gettext.translation(
            DOMAIN, localedir=str(LOCALE_DIR), languages=[lang], fallback=True
        )
        _translations[lang] = found
    return found


def set_language(lang: str) -> None:
    """Make `lang` the language that `_` uses when no language is passed."""
    global _current
    _current = lang


def current_language() -> str:
    """Return the language `_` uses by default."""
    return _current


def _(msgid: str, lang: str | None = None) -> str:
    """Translate `msgid` into `lang` (default: the current language)."""
    if not msgid:
        return ""
    return translation(lang or _current).gettext(msgid)


def ngettext(singular: str, plural: str, n: int, lang: str | None = None) -> str:
    """Translate a message with a count into `lang` (default: the current language)."""
    return translation(lang or _current).ngettext(singular, plural, n)


def is_rtl(lang: str) -> bool:
    """Tell whether a language is written right to left."""
    return lang.split("_")[0] in RTL_LANGUAGES
