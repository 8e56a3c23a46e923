"""The follow-up page's language: the kiosk's gettext catalogs, read by the server.

The server and the kiosk share one set of catalogs (``assets/locale/<lang>/LC_MESSAGES/
kiosk.mo``, compiled when the package is built): the follow-up templates mark their texts
with ``_()``/``ngettext()`` (Jinja2's i18n extension), Babel extracts them with the kiosk's
strings, and a language added to the catalogs reaches the patient's phone with nothing else
changed. ``assets`` is a data package: reading it keeps the rule that the server never
imports kiosk code.
"""

from __future__ import annotations

import gettext
import logging
from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

import jinja2
from babel import Locale, UnknownLocaleError
from babel.core import negotiate_locale
from babel.dates import format_time
from babel.numbers import format_decimal

log = logging.getLogger(__name__)

DOMAIN = "kiosk"
DEFAULT_LANGUAGE = "en"
LOCALE_DIR: Traversable = files("assets").joinpath("locale")
#: Languages written right to left (the page's `dir` attribute).
RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur"})


def N_(msgid: str) -> str:  # noqa: N802 - the gettext marker's usual name
    """Mark a text for extraction; translate it later with `gettext_for`."""
    return msgid


@lru_cache(maxsize=1)
def available_languages() -> tuple[str, ...]:
    """Return the languages that ship a compiled catalog (English always)."""
    found = {DEFAULT_LANGUAGE}
    if LOCALE_DIR.is_dir():
        for entry in LOCALE_DIR.iterdir():
            if entry.joinpath("LC_MESSAGES", f"{DOMAIN}.mo").is_file():
                found.add(entry.name)
    return tuple(sorted(found))


@lru_cache(maxsize=32)
def translation(lang: str) -> gettext.NullTranslations:
    """Return the catalog of a language (English msgids when there is none)."""
    catalog = LOCALE_DIR.joinpath(lang, "LC_MESSAGES", f"{DOMAIN}.mo")
    if catalog.is_file():
        with catalog.open("rb") as handle:
            return gettext.GNUTranslations(handle)
    return gettext.NullTranslations()


def pick_language(language: str | None) -> str:
    """Return the offered language closest to a kiosk language code (es_MX -> es)."""
    if not language:
        return DEFAULT_LANGUAGE
    offered = available_languages()
    chosen = negotiate_locale([language], list(offered), sep="_")
    return chosen or DEFAULT_LANGUAGE


def _preferences(header: str) -> list[str]:
    """Return the tags of an Accept-Language header, most wanted first (q=0 dropped)."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, index, tag.strip().replace("-", "_")))
    return [tag for _q, _i, tag in sorted(weighted)]


def accept_language(header: str | None) -> str:
    """Return the offered language a phone's Accept-Language header asks for most."""
    offered = list(available_languages())
    for tag in _preferences(header or ""):
        # Babel maps zh_CN / zh_Hans / zh_SG to zh; a script or region we lack falls back
        # to the base language of that same tag before the next tag is tried.
        try:
            locale = Locale.parse(tag, sep="_")
        except (ValueError, UnknownLocaleError):
            continue
        candidates = [str(locale), locale.language]
        if locale.language == "zh" and locale.script not in (None, "Hans"):
            continue  # Traditional Chinese readers get the next choice, not Simplified
        if locale.language == "zh" and locale.territory in ("TW", "HK", "MO") and not locale.script:
            continue
        chosen = negotiate_locale(candidates, offered, sep="_")
        if chosen:
            return chosen
    return DEFAULT_LANGUAGE


def gettext_for(lang: str, msgid: str) -> str:
    """Translate one text into a language."""
    return translation(lang).gettext(msgid)


def format_number(value: float, lang: str) -> str:
    """Format a number the way a language writes it (Babel)."""
    return format_decimal(value, locale=lang)


def is_rtl(lang: str) -> bool:
    """Tell whether a language is written right to left."""
    return lang.split("_")[0] in RTL_LANGUAGES


def language_name(code: str, in_language: str) -> str:
    """Return a language's name in another language (Babel/CLDR), or the code itself."""
    try:
        name = Locale.parse(code, sep="_").get_display_name(in_language)
    except (ValueError, UnknownLocaleError):
        return code
    return name or code


def staff_language_label(code: str) -> str:
    """Return a language as staff read it: English name and own name ("Arabic (العربية)")."""
    english = language_name(code, DEFAULT_LANGUAGE)
    own = language_name(code, code)
    return english if own in (english, code) else f"{english} ({own})"


@jinja2.pass_context
def _template_gettext(context: Any, msgid: str) -> str:
    return translation(context.get("lang", DEFAULT_LANGUAGE)).gettext(msgid)


@jinja2.pass_context
def _template_ngettext(context: Any, singular: str, plural: str, n: int) -> str:
    return translation(context.get("lang", DEFAULT_LANGUAGE)).ngettext(singular, plural, n)


def install(env: jinja2.Environment) -> None:
    """Give an environment `_`, `ngettext` and the locale filters, per render's `lang`."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _template_gettext, _template_ngettext, newstyle=True
    )
    env.filters["number"] = _number
    env.filters["staff_language"] = staff_language_label
    env.filters["local_time"] = _local_time


@jinja2.pass_context
def _number(context: Any, value: float) -> str:
    return format_number(value, context.get("lang", DEFAULT_LANGUAGE))


@jinja2.pass_context
def _local_time(context: Any, value: Any) -> str:
    return format_time(value, "short", locale=context.get("lang", DEFAULT_LANGUAGE))
