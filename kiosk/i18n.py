"""Translations for the kiosk: gettext catalogs shipped in the ``assets`` package.

Catalogs live in ``assets/locale/<lang>/LC_MESSAGES/kiosk.po``; the ``.mo`` files are compiled
when the package is built (setup.py, scripts/compile_catalogs.py) and only read here, through
``importlib.resources``, so an installed kiosk never writes into its own package.
Adding a language is adding a catalog. No Kivy import here: kv rules call ``_(msgid, lang)``
with ``app.lang`` as second argument so that they re-evaluate when the language changes.
"""

from __future__ import annotations

import gettext
import logging
from importlib.resources import files
from importlib.resources.abc import Traversable

log = logging.getLogger(__name__)

DOMAIN = "kiosk"
LOCALE_DIR: Traversable = files("assets").joinpath("locale")

#: Language used when no catalog matches (the msgids are English).
FALLBACK_LANGUAGE = "en"

#: Languages written right to left: their screens mirror and their text is shaped.
RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur"})

#: Languages a patient can ask an interpreter for: the languages most asked for in US
#: clinics (Section 1557 taglines), whether or not the kiosk's screens offer them.
INTERPRETER_LANGUAGES: tuple[str, ...] = (
    "es", "zh", "vi", "ar", "ru", "tl", "ko", "ht", "fr", "pt", "pl", "fa", "ja", "hi", "so",
    "en",
)  # fmt: skip

#: Babel locale whose own name stands for a language code (Simplified Chinese for "zh").
_NAME_LOCALES = {"zh": "zh_Hans", "tl": "fil"}
#: Own names where CLDR's reads oddly on a button ("中文 (简体)").
_OWN_NAMES = {"zh": "简体中文", "tl": "Tagalog"}

_translations: dict[str, gettext.NullTranslations] = {}
_current = FALLBACK_LANGUAGE


def _catalog(lang: str, locale_dir: Traversable = LOCALE_DIR) -> Traversable:
    return locale_dir.joinpath(lang, "LC_MESSAGES", f"{DOMAIN}.mo")


def available_languages(locale_dir: Traversable = LOCALE_DIR) -> list[str]:
    """Return the language codes that ship a compiled catalog, sorted."""
    if not locale_dir.is_dir():
        return []
    return sorted(p.name for p in locale_dir.iterdir() if _catalog(p.name, locale_dir).is_file())


def translation(lang: str) -> gettext.NullTranslations:
    """Return the (cached) translations for a language; English msgids if none."""
    found = _translations.get(lang)
    if found is None:
        found = _load(lang)
        _translations[lang] = found
    return found


def _load(lang: str) -> gettext.NullTranslations:
    """Read the compiled catalog of `lang` (or its base language); English msgids if none."""
    for code in dict.fromkeys([lang, lang.split("_")[0]]):
        catalog = _catalog(code)
        if catalog.is_file():
            with catalog.open("rb") as handle:
                return gettext.GNUTranslations(handle)
    if lang != FALLBACK_LANGUAGE:
        log.warning("no compiled catalog for %s; showing English", lang)
    return gettext.NullTranslations()


def set_language(lang: str) -> None:
    """Make `lang` the language that `_` uses when no language is passed."""
    global _current
    _current = lang


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


def native_name(lang: str) -> str:
    """Return a language's name in its own language and script ("العربية", "中文 (简体)")."""
    from babel import Locale, UnknownLocaleError

    if lang in _OWN_NAMES:
        return _OWN_NAMES[lang]
    code = _NAME_LOCALES.get(lang, lang)
    try:
        name = Locale.parse(code, sep="_").get_display_name(code) or lang
    except (ValueError, UnknownLocaleError):
        return lang
    return name[:1].upper() + name[1:]


def language_name(lang: str, in_language: str) -> str:
    """Return a language's name in another language ("Arabic", "árabe")."""
    from babel import Locale, UnknownLocaleError

    code = _NAME_LOCALES.get(lang, lang)
    try:
        return Locale.parse(code, sep="_").get_display_name(in_language) or lang
    except (ValueError, UnknownLocaleError):
        return lang
