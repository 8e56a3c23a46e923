"""Settings (TOML + environment, unsafe defaults refused), admin PIN lockout, staff corner."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from kiosk_core_helpers import Clock, row_counts
from sqlalchemy import func, select

from kiosk.config import DEMO_ADMIN_PIN, ConfigError, KioskSettings
from kiosk.facade import InvalidInput
from kiosk.models import CheckIn
from kiosk.services import Kiosk
from kiosk.state import StateKey, set_datetime, set_flag, set_state
from sync import outbox
from sync.outbox import OutboxRecord
from sync.protocol import RecordKind


def hash_pin(pin: str) -> str:
    """Hash with cheap parameters: the tests check the logic, not argon2's cost."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(pin)


SAMPLE = """
[kiosk]
data_dir = "{data}"
clinic_name = "Riverside Family Practice"
server_url = "https://clinic.example.org"
kiosk_letter = "B"
languages = ["en", "es", "fr"]
default_language = "es"
timezone = "Europe/Madrid"
idle_timeout_seconds = 90
check_in_early_minutes = 20
demo = true
"""


def test_settings_from_toml_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(SAMPLE.format(data=tmp_path / "data"), "utf-8")
    settings = KioskSettings.load(
        config,
        environ={
            "KIOSK_KIOSK_LETTER": "C",
            "KIOSK_IDLE_TIMEOUT_SECONDS": "120",
            "KIOSK_LANGUAGES": "en, es",
            "KIOSK_DEMO": "yes",
        },
    )
    assert settings.clinic_name == "Riverside Family Practice"
    assert settings.kiosk_letter == "C" and settings.idle_timeout_seconds == 120
    assert settings.languages == ("en", "es") and settings.default_language == "es"
    assert settings.check_in_early_minutes == 20 and settings.check_in_late_minutes == 15
    assert settings.database_path == tmp_path / "data" / "kiosk.sqlite3"
    assert str(settings.tz) == "Europe/Madrid"


def test_config_path_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text('clinic_name = "Flat File Clinic"\n', "utf-8")
    settings = KioskSettings.load(environ={"KIOSK_CONFIG": str(config), "KIOSK_DEMO": "1"})
    assert settings.clinic_name == "Flat File Clinic"


def test_production_is_the_default_and_names_what_is_missing() -> None:
    with pytest.raises(ConfigError) as refused:
        KioskSettings.load(environ={})
    assert "server_url (KIOSK_SERVER_URL)" in str(refused.value)
    assert "admin_pin_hash (KIOSK_ADMIN_PIN_HASH)" in str(refused.value)
    with pytest.raises(ConfigError, match=r"missing setting admin_pin_hash \(KIOSK_ADMIN_PIN"):
        KioskSettings.load(environ={"KIOSK_SERVER_URL": "https://clinic.example.test"})
    with pytest.raises(ConfigError, match=r"missing setting server_url \(KIOSK_SERVER_URL\)"):
        KioskSettings.load(environ={"KIOSK_ADMIN_PIN_HASH": hash_pin("839201")})


def test_defaults_are_the_documented_ones() -> None:
    settings = KioskSettings.load(environ={}, demo=True)
    assert settings.demo is True and settings.server_url == "http://127.0.0.1:8000"
    assert (settings.idle_timeout_seconds, settings.idle_countdown_seconds) == (60, 20)
    assert (settings.check_in_early_minutes, settings.check_in_late_minutes) == (30, 15)
    assert settings.rating_dedupe_seconds == 10 and settings.kiosk_letter == "A"
    assert settings.languages == ("en", "es") and settings.timezone == "UTC"


@pytest.mark.parametrize(
    ("environ", "fragment"),
    [
        ({"KIOSK_DEMO": "0"}, "missing setting server_url"),
        ({"KIOSK_KIOSK_LETTER": "ab"}, "kiosk_letter"),
        ({"KIOSK_TIMEZONE": "Mars/Olympus"}, "timezone"),
        ({"KIOSK_DEFAULT_LANGUAGE": "de"}, "default_language"),
        ({"KIOSK_IDLE_TIMEOUT_SECONDS": "soon"}, "idle_timeout_seconds"),
        ({"KIOSK_IDLE_TIMEOUT_SECONDS": "5"}, "idle_countdown_seconds"),
        ({"KIOSK_SERVER_URL": "ftp://x"}, "server_url"),
        # The staff corner's rule (sync.rules.server_base_url), not just a prefix:
        ({"KIOSK_SERVER_URL": "http://"}, "server_url"),
        ({"KIOSK_SERVER_URL": "https://clinic.example.org/?x=1"}, "server_url"),
        ({"KIOSK_DEMO": "maybe"}, "demo"),
        ({"KIOSK_ADMIN_PIN_HASH": "plain-text-pin"}, "argon2"),
        ({"KIOSK_LANGUAGES": "en,Spanish", "KIOSK_DEFAULT_LANGUAGE": "en"}, "languages"),
    ],
)
def test_bad_settings_are_refused(environ: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        KioskSettings.load(environ={"KIOSK_DEMO": "1", **environ})


def test_unknown_key_and_bad_toml_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text("clinic_nmae = 'typo'\n", "utf-8")
    with pytest.raises(ConfigError, match="unknown setting"):
        KioskSettings.load(config, environ={})
    config.write_text("clinic_name = \n", "utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        KioskSettings.load(config, environ={})
    with pytest.raises(ConfigError, match="not found"):
        KioskSettings.load(tmp_path / "missing.toml", environ={})


def test_the_settings_server_url_is_kept_without_its_trailing_slash() -> None:
    environ = {"KIOSK_DEMO": "1", "KIOSK_SERVER_URL": " https://clinic.example.org/ "}
    assert KioskSettings.load(environ=environ).server_url == "https://clinic.example.org"


def test_arguments_beat_the_environment_which_beats_the_file(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(
        '[kiosk]\ndemo = true\nclinic_name = "File"\nkiosk_letter = "F"\nreceipt_seconds = 30\n',
        "utf-8",
    )
    settings = KioskSettings.load(
        config,
        environ={"KIOSK_CLINIC_NAME": "Environment", "KIOSK_KIOSK_LETTER": "E"},
        clinic_name="Argument",
    )
    assert settings.clinic_name == "Argument"  # argument over environment and file
    assert settings.kiosk_letter == "E"  # environment over file
    assert settings.receipt_seconds == 30  # file over default
    assert settings.minutes_per_patient == 10  # default


def test_load_reads_os_environ_and_plain_construction_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KIOSK_CONFIG", raising=False)
    monkeypatch.setenv("KIOSK_KIOSK_LETTER", "Q")
    assert KioskSettings.load(demo=True).kiosk_letter == "Q"
    assert KioskSettings(demo=True).kiosk_letter == "A"
    assert KioskSettings(demo=True).replace(kiosk_letter="R").kiosk_letter == "R"
    with pytest.raises(ConfigError, match=r"kiosk_letter \(KIOSK_KIOSK_LETTER\)"):
        KioskSettings(demo=True).replace(kiosk_letter="r")  # validated again


def test_a_bad_value_names_its_key_and_variable_never_the_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        KioskSettings.load(
            environ={
                "KIOSK_DEMO": "1",
                "KIOSK_RECEIPT_SECONDS": "0",
                "KIOSK_ADMIN_PIN_HASH": "pin-6291",
            }
        )
    message = str(refused.value)
    assert "receipt_seconds (KIOSK_RECEIPT_SECONDS): Input should be greater than 0" in message
    assert "admin_pin_hash (KIOSK_ADMIN_PIN_HASH): must be an argon2 hash" in message
    assert "pin-6291" not in message
    config = tmp_path / "kiosk.toml"
    config.write_text("[kiosk]\ndemo = true\nidle_timeout_seconds = true\n", "utf-8")
    with pytest.raises(ConfigError, match=r"idle_timeout_seconds \(KIOSK_IDLE_TIMEOUT_SECONDS\)"):
        KioskSettings.load(config, environ={})
    config.write_text("kiosk = 3\n", "utf-8")
    with pytest.raises(ConfigError, match=r"\[kiosk\] must be a table"):
        KioskSettings.load(config, environ={})


def test_demo_pin_is_refused_outside_demo() -> None:
    with pytest.raises(ConfigError, match="demo PIN"):
        KioskSettings.load(
            environ={
                "KIOSK_SERVER_URL": "https://clinic.example.test",
                "KIOSK_ADMIN_PIN_HASH": hash_pin(DEMO_ADMIN_PIN),
            }
        )
    real = KioskSettings.load(
        environ={
            "KIOSK_SERVER_URL": "https://clinic.example.test",
            "KIOSK_ADMIN_PIN_HASH": hash_pin("839201"),
        }
    )
    assert real.demo is False


def test_admin_pin_lockout(kiosk: Kiosk, clock: Clock) -> None:
    assert kiosk.verify_admin_pin(DEMO_ADMIN_PIN) is True
    for _ in range(4):
        assert kiosk.verify_admin_pin("0000") is False
    assert kiosk.verify_admin_pin(DEMO_ADMIN_PIN) is True  # a success resets the count
    for _ in range(5):
        assert kiosk.verify_admin_pin("9999") is False
    assert kiosk.admin_lockout_remaining() == 60
    assert kiosk.verify_admin_pin(DEMO_ADMIN_PIN) is False  # locked: even the right PIN
    clock.advance(seconds=59)
    assert kiosk.verify_admin_pin(DEMO_ADMIN_PIN) is False
    assert kiosk.admin_lockout_remaining() == 1
    clock.advance(seconds=1)
    assert kiosk.admin_lockout_remaining() == 0
    assert kiosk.verify_admin_pin(DEMO_ADMIN_PIN) is True
    assert kiosk.verify_admin_pin("") is False


def test_configured_pin_hash_is_used(tmp_path: Path, clock: Clock) -> None:
    settings = KioskSettings.load(
        environ={},
        data_dir=tmp_path,
        server_url="https://clinic.example.test",
        admin_pin_hash=hash_pin("2468"),
    )
    kiosk = Kiosk.open(settings, clock=clock, monotonic=clock.monotonic)
    assert row_counts(kiosk)["appointments"] == 0  # no demo seed outside demo mode
    assert kiosk.verify_admin_pin("2468") is True
    assert kiosk.verify_admin_pin(DEMO_ADMIN_PIN) is False
    kiosk.close()


def test_admin_settings_round_trip(kiosk: Kiosk) -> None:
    assert kiosk.admin_settings() == {
        "server_url": "http://127.0.0.1:8000",
        "default_language": "en",
        "idle_timeout_seconds": "60",
    }
    kiosk.save_admin_settings(
        {
            "server_url": "https://clinic.example.org/",
            "default_language": "es",
            "idle_timeout_seconds": "90",
        }
    )
    assert kiosk.admin_settings() == {
        "server_url": "https://clinic.example.org",
        "default_language": "es",
        "idle_timeout_seconds": "90",
    }
    assert kiosk.idle_timeout_seconds() == 90 and kiosk.idle_countdown_seconds() == 20
    assert kiosk.clinic_info().default_language == "es"
    receipt = kiosk.ask_question("Hours?", "en")
    assert receipt.follow_up_url.startswith("https://clinic.example.org/f/")


@pytest.mark.parametrize(
    "values",
    [
        {"server_url": "clinic.example.org"},
        {"server_url": "javascript:alert(1)"},
        {"server_url": "http://"},
        {"default_language": "de"},
        {"idle_timeout_seconds": "5"},
        {"idle_timeout_seconds": "ten"},
        {"idle_timeout_seconds": "100000"},
        {"kiosk_token": "steal"},
        {"idle_timeout_seconds": "90", "server_url": "nope"},  # all or nothing
    ],
)
def test_bad_admin_settings_change_nothing(kiosk: Kiosk, values: dict[str, str]) -> None:
    before = kiosk.admin_settings()
    with pytest.raises(InvalidInput):
        kiosk.save_admin_settings(values)
    assert kiosk.admin_settings() == before


def test_sync_status_reads_outbox_and_state(kiosk: Kiosk, clock: Clock) -> None:
    status = kiosk.sync_status()
    # The demo's seeded check-in is local only: demo data never enters the outbox.
    assert (status.pending, status.failed, status.paired, status.online) == (0, 0, False, None)
    kiosk.ask_question("Hours?", "en")
    with kiosk.db.write() as session:
        row = outbox.enqueue(
            RecordKind.RATING,
            {
                "face": 3,
                "rated_at": clock.now.isoformat(),
                "follow_up_token": "a" * 24,
                "language": "en",
            },
            session=session,
        )
        session.flush()
        outbox.mark_failed(row.id, session=session, reason="422 invalid")
        set_state(StateKey.KIOSK_TOKEN, "secret-token", session=session)
        set_flag(StateKey.ONLINE, True, session=session)
        set_datetime(StateKey.LAST_SUCCESS_AT, clock.now, session=session)
        set_state(StateKey.LAST_ERROR, "timeout", session=session)
    status = kiosk.sync_status()
    assert (status.pending, status.failed) == (1, 1)
    assert status.paired is True and status.online is True and status.revoked is False
    assert status.last_success_at == clock.now and status.last_error == "timeout"


def test_pairing_reports_back_on_a_thread(kiosk: Kiosk) -> None:
    done = threading.Event()
    result: list[str | None] = []

    def on_done(message: str | None) -> None:
        result.append(message)
        done.set()

    # Nothing listens on port 9 (discard): the pairing must fail with a message, not hang.
    kiosk.request_pairing("http://127.0.0.1:9", "ABC123", on_done)
    assert done.wait(15)
    assert result and isinstance(result[0], str) and result[0]


def test_clinic_info_and_faq(kiosk: Kiosk) -> None:
    info = kiosk.clinic_info()
    assert info.name == "Demo Clinic" and info.languages == ["en", "es"]
    english, spanish = kiosk.faq("en"), kiosk.faq("es")
    assert [item.id for item in english] == [item.id for item in spanish]
    assert {"hours", "parking", "billing", "prescriptions", "accessibility"} <= {
        item.id for item in english
    }
    assert english[0].question != spanish[0].question
    assert kiosk.faq("fr") == english  # unknown language: the default one


def test_demo_data_never_reaches_a_real_kiosk(tmp_path: Path, clock: Clock) -> None:
    demo = Kiosk.open(
        KioskSettings.load(environ={}, demo=True, data_dir=tmp_path),
        clock=clock,
        monotonic=clock.monotonic,
    )
    with demo.db.read_session() as session:
        assert session.scalar(select(func.count()).select_from(CheckIn)) == 1  # seeded
        assert session.scalar(select(func.count()).select_from(OutboxRecord)) == 0
    demo.close()
    real = KioskSettings.load(
        environ={},
        data_dir=tmp_path,
        server_url="https://clinic.example.test",
        admin_pin_hash=hash_pin("2468"),
    )
    with pytest.raises(ConfigError, match="holds demo data"):
        Kiosk.open(real, clock=clock, monotonic=clock.monotonic)
