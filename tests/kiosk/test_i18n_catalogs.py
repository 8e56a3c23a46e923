"""The one set of gettext catalogs: complete, placeholders kept, plural forms right, nothing
a patient reads left outside them; languages negotiated; emergency words in every language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po
from jinja2 import Environment
from jinja2.lexer import TOKEN_DATA

from clinic import i18n as server_i18n
from kiosk import i18n
from kiosk.emergency import is_emergency_text

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "assets" / "locale"
LANGUAGES = sorted(p.name for p in LOCALE.iterdir() if (p / "LC_MESSAGES" / "kiosk.po").is_file())
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "ngettext": (1, 2)}
BRACES = re.compile(r"{\w*}")
PERCENT = re.compile(r"%\(\w+\)[sd]")


def _extracted() -> dict[str | tuple[str, str], list[str]]:
    """Run Babel's extraction with the project's own mapping (assets/locale/babel.cfg)."""
    with (LOCALE / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str | tuple[str, str], list[str]] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        key = tuple(message[:2]) if isinstance(message, tuple) else message
        if key:
            found.setdefault(key, []).append(filename)  # type: ignore[arg-type]
    return found


EXTRACTED = _extracted()


def _catalog(lang: str):  # type: ignore[no-untyped-def]
    with (LOCALE / lang / "LC_MESSAGES" / "kiosk.po").open("rb") as handle:
        return read_po(handle, locale=lang)


def test_the_six_languages_ship() -> None:
    assert {"en", "es", "zh", "vi", "ar", "ru"} <= set(LANGUAGES)


def test_extraction_finds_kiosk_and_follow_up_texts() -> None:
    files = {name for names in EXTRACTED.values() for name in names}
    assert any(name.startswith("screens/") and name.endswith(".kv") for name in files)
    assert any(name.startswith("clinic/templates/followup/") for name in files)
    assert "Check in" in EXTRACTED and "People before you" in EXTRACTED
    assert (
        "This screen closes in {seconds} second",
        "This screen closes in {seconds} seconds",
    ) in EXTRACTED


def test_template_holds_exactly_what_the_code_shows() -> None:
    # Run `pybabel extract` (assets/locale/babel.cfg) after changing a text.
    with (LOCALE / "kiosk.pot").open("rb") as handle:
        template = read_po(handle)
    in_template = {tuple(m.id) if isinstance(m.id, tuple) else m.id for m in template if m.id}
    assert in_template == set(EXTRACTED)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_catalog_is_complete(lang: str) -> None:
    catalog = _catalog(lang)
    missing = []
    for key in EXTRACTED:
        msgid = key[0] if isinstance(key, tuple) else key
        message = catalog.get(msgid)
        forms = (
            message.string
            if message is not None and isinstance(message.string, tuple)
            else (message.string if message is not None else "",)
        )
        if message is None or not all(forms) or message.fuzzy:
            missing.append(msgid)
    assert not missing, f"{lang}: untranslated {missing}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_babel_checks_and_placeholders(lang: str) -> None:
    catalog = _catalog(lang)
    problems = [(message.id, [str(e) for e in errors]) for message, errors in catalog.check()]
    assert not problems, problems
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        for form in forms:
            for pattern in (BRACES, PERCENT):
                assert set(pattern.findall(ids[-1])) == set(pattern.findall(form)), (lang, ids)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_plural_forms_are_the_languages_own(lang: str) -> None:
    catalog = _catalog(lang)
    expected = get_plural(lang)
    assert catalog.num_plurals == expected.num_plurals
    assert catalog.plural_expr == expected.plural_expr
    for message in catalog:
        if message.id and isinstance(message.id, tuple):
            assert len(message.string) == expected.num_plurals, message.id


def test_plural_forms_pick_the_right_words() -> None:
    seconds = ("Starting over in {seconds} second", "Starting over in {seconds} seconds")
    russian = [i18n.ngettext(*seconds, n, "ru").format(seconds=n) for n in (1, 3, 5, 21)]
    assert [text.rsplit(" ", 1)[1] for text in russian] == [
        "секунду",
        "секунды",
        "секунд",
        "секунду",
    ]
    arabic = [i18n.ngettext(*seconds, n, "ar").format(seconds=n) for n in (2, 5, 11)]
    assert [text.rsplit(" ", 1)[1] for text in arabic] == ["ثانيتين", "ثوانٍ", "ثانية"]
    assert i18n.ngettext(*seconds, 7, "zh").format(seconds=7) == "7 秒后将重新开始"


def test_no_patient_text_is_written_outside_the_catalogs() -> None:
    # A kv `text:` with words in a bare string literal would never be translated.
    bare = re.compile(r"""^\s*text:\s*(['"])(?P<s>[^'"]*[^\W\d_]{2,}[^'"]*)\1\s*$""")
    for kv in sorted((ROOT / "screens").glob("*.kv")):
        for number, line in enumerate(kv.read_text(encoding="utf-8").splitlines(), 1):
            assert not bare.match(line), f"{kv.name}:{number}: {line.strip()}"
    # Words in a follow-up template outside {{ }} and {% %} would be shown in English only.
    env = Environment(extensions=["jinja2.ext.i18n"])
    for template in sorted((ROOT / "clinic" / "templates" / "followup").glob("*.html")):
        source = template.read_text(encoding="utf-8")
        data = "".join(v if kind == TOKEN_DATA else "0" for _n, kind, v in env.lex(source))
        words = re.sub(r"<[^>]*>", " ", data)
        assert not re.search(r"[^\W\d_]{2,}", words), f"{template.name}: {words.strip()!r}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_follow_up_page_reads_the_same_catalogs(lang: str) -> None:
    kiosk_text = i18n._("You are checked in", lang)
    assert server_i18n.gettext_for(lang, "You are checked in") == kiosk_text
    if lang != "en":
        assert kiosk_text != "You are checked in"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("zh-Hans", "zh"),
        ("zh-TW,en;q=0.5", "en"),  # Traditional Chinese is not offered: the next choice
        ("ar-EG,ar;q=0.9", "ar"),
        ("vi-VN", "vi"),
        ("fr-FR, ru;q=0.5", "ru"),
        ("en;q=0.3, es-MX;q=0.9", "es"),
        ("ar;q=0, vi;q=0.2", "vi"),
        ("*", "en"),
        ("", "en"),
        ("not a tag;;,", "en"),
    ],
)
def test_accept_language_is_negotiated(header: str, expected: str) -> None:
    assert server_i18n.accept_language(header) == expected


def test_a_record_language_is_mapped_to_a_catalog() -> None:
    assert server_i18n.pick_language("es_MX") == "es"
    assert server_i18n.pick_language("ar") == "ar"
    assert server_i18n.pick_language("xx") == "en"
    assert server_i18n.pick_language(None) == "en"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_has_its_own_name(lang: str) -> None:
    own = i18n.native_name(lang)
    assert own and own != lang
    scripts = {"zh": r"[\u4e00-\u9fff]", "ar": r"[\u0600-\u06ff]", "ru": r"[\u0400-\u04ff]"}
    if lang in scripts:
        assert re.search(scripts[lang], own), own


def test_interpreter_languages_have_names_for_staff() -> None:
    for code in i18n.INTERPRETER_LANGUAGES:
        assert i18n.native_name(code) != code
        assert server_i18n.staff_language_label(code) != code
    assert server_i18n.staff_language_label("ar") == "Arabic (العربية)"


#: One message per language and sign a clinic must not miss, as patients type them
#: (misspelt, unaccented, in Latin letters on the kiosk's keyboard).
EMERGENCIES = {
    "en": ["I have chest pian since this morning", "my son cant breth", "bleading a lot",
           "her face droop and slurred speech", "I feel sucidal"],
    "es": ["tengo dolor de pexo", "no puedo respirrar", "estoy sangrando mucho",
           "tiene la cara caida", "pienso en suicidarme"],
    "zh": ["我胸口痛得厉害", "我喘不过气", "伤口流血不止", "他嘴歪了，说话不清", "我不想活了",
           "xiong tong"],
    "vi": ["toi bi dau nguc", "Tôi khó thở quá", "chảy máu không ngừng", "ba tôi bị méo miệng",
           "tôi muốn tự tử"],
    "ar": ["عندي الم في صدري", "ما اقدر اتنفس", "عندي نزيف", "جلطه دماغيه عند ابي",
           "افكر في الانتحار"],
    "ru": ["сильная боль в груде", "не магу дышать", "кровотечение не останавливается",
           "у мамы перекосило лицо", "хочу умереть"],
}  # fmt: skip
HARMLESS = [
    "When do you open on Saturday?", "¿Dónde está el baño?", "我想预约下周的时间",
    "Tôi muốn hỏi giờ mở cửa", "متى تفتح العيادة؟", "Когда открывается клиника?",
    "I need a blood test form",
]  # fmt: skip


@pytest.mark.parametrize("lang", sorted(EMERGENCIES))
def test_emergency_words_in_every_language(lang: str) -> None:
    for text in EMERGENCIES[lang]:
        assert is_emergency_text(text), text


@pytest.mark.parametrize("text", HARMLESS)
def test_ordinary_questions_raise_no_alarm(text: str) -> None:
    assert not is_emergency_text(text)


def test_every_catalog_language_has_emergency_words() -> None:
    import json

    words = json.loads((ROOT / "assets" / "emergency_words.json").read_text(encoding="utf-8"))
    assert set(LANGUAGES) <= set(words)
