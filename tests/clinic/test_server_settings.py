"""Server settings through pydantic-settings: keyword arguments > CLINIC_* > CLINIC_CONFIG file."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from pydantic import ValidationError

from clinic.config import Settings
from clinic.ehr.config import EhrSettings

CONFIG = """
environment = "test"
timezone = "America/Chicago"
session_idle_seconds = 600
login_window_seconds = 60
trusted_proxies = ["10.0.0.9"]

[ehr]
hl7_host = "ehr.clinic.test"
hl7_port = 2575
fhir_base_url = "https://fhir.clinic.test/r4"
"""


def test_arguments_beat_the_environment_which_beats_the_file(tmp_path: Path) -> None:
    config = tmp_path / "clinic.toml"
    config.write_text(CONFIG, "utf-8")
    environ = {
        "CLINIC_CONFIG": str(config),
        "CLINIC_TIMEZONE": "Europe/Madrid",
        "CLINIC_SESSION_IDLE_SECONDS": "300",
        "CLINIC_TRUSTED_PROXIES": "10.0.0.5, 10.1.0.0/16",
        "CLINIC_EHR_HL7_PORT": "2576",
        "CLINIC_EHR_FHIR_BASE_URL": "",  # empty: not set, whatever the file says
    }
    settings = Settings.from_env(environ, timezone="Asia/Tokyo")
    assert settings.timezone == "Asia/Tokyo"  # argument over environment and file
    assert settings.session_idle_seconds == 300  # environment over file
    assert settings.trusted_proxies == ("10.0.0.5", "10.1.0.0/16")  # comma-separated
    assert settings.login_window_seconds == 60  # file over default
    assert settings.retention_days == 90  # default
    ehr = EhrSettings.from_env(environ)  # the [ehr] table, CLINIC_EHR_* over it
    assert (ehr.hl7_host, ehr.hl7_port, ehr.fhir_base_url) == ("ehr.clinic.test", 2576, None)
    assert ehr.targets == ("hl7",)


def test_plain_construction_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLINIC_CONFIG", raising=False)
    monkeypatch.setenv("CLINIC_TIMEZONE", "Asia/Tokyo")
    monkeypatch.setenv("CLINIC_EHR_HL7_HOST", "ehr.clinic.test")
    assert Settings(environment="test").timezone == "UTC"
    assert Settings.from_env(environment="test").timezone == "Asia/Tokyo"  # os.environ
    assert EhrSettings().hl7_host is None
    assert EhrSettings.from_env().hl7_host == "ehr.clinic.test"


def test_an_empty_variable_leaves_the_choice_to_the_environment() -> None:
    base = {"CLINIC_SECRET_KEY": secrets.token_urlsafe(48), "CLINIC_API_DOCS": ""}
    assert Settings.from_env(base).api_docs_enabled is False  # production
    assert Settings.from_env({**base, "CLINIC_ENVIRONMENT": "dev"}).api_docs_enabled is True
    assert Settings.from_env({**base, "CLINIC_SMTP_HOST": ""}).smtp_host == ""


def test_a_bad_value_names_its_key_and_never_echoes_a_value(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings.from_env({"CLINIC_ENVIRONMENT": "test", "CLINIC_SMTP_PORT": "port-6291"})
    assert "smtp_port" in str(refused.value) and "port-6291" not in str(refused.value)
    with pytest.raises(ValidationError) as refused:
        Settings.from_env({"CLINIC_SECRET_KEY": "k" * 40, "CLINIC_SMTP_PASSWORD": "pw-6291"})
    assert "CLINIC_SECRET_KEY has too little entropy" in str(refused.value)
    assert "pw-6291" not in str(refused.value) and "k" * 40 not in str(refused.value)
    config = tmp_path / "clinic.toml"
    config.write_text('environment = "test"\n[ehr]\nhl7_port = "mllp"\n', "utf-8")
    with pytest.raises(ValidationError, match="hl7_port"):
        EhrSettings.from_env({"CLINIC_CONFIG": str(config)})
    with pytest.raises(FileNotFoundError, match="CLINIC_CONFIG"):
        Settings.from_env({"CLINIC_CONFIG": str(tmp_path / "missing.toml")})


def test_a_kiosk_silent_alert_shorter_than_last_contacts_granularity_is_refused() -> None:
    # A kiosk's last contact is stored to about 2 minutes: a 1-minute rule would fire on
    # healthy kiosks.
    with pytest.raises(ValidationError, match="alert_kiosk_silent_minutes"):
        Settings(environment="test", alert_kiosk_silent_minutes=1)
    for minutes in (0, 3):
        settings = Settings(environment="test", alert_kiosk_silent_minutes=minutes)
        assert settings.alert_kiosk_silent_minutes == minutes
