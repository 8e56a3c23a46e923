"""Clinic server settings: one class, read from CLINIC_* environment variables and/or a TOML file.

Precedence: explicit keyword arguments > environment (CLINIC_<FIELD>) > config file
(CLINIC_CONFIG=/path/to/clinic.toml, top-level keys named like the fields) > defaults.
Outside the dev/demo/test environments a default or short secret key is refused.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_SECRET_KEY = "dev-only-insecure-secret-key-change-me"
ENV_PREFIX = "CLINIC_"
UNSAFE_ALLOWED = frozenset({"dev", "demo", "test"})


class Settings(BaseModel):
    """Everything an operator may configure; safe defaults for a laptop demo."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    environment: Literal["dev", "demo", "test", "production"] = "dev"
    database_url: str = "sqlite:///./var/clinic.db"
    #: Base URL patients' phones reach (follow-up QR codes) and staff use; https => Secure cookies.
    public_base_url: str = "http://127.0.0.1:8000"
    secret_key: str = DEFAULT_SECRET_KEY
    timezone: str = "UTC"

    # Staff sessions
    session_idle_seconds: int = Field(default=30 * 60, ge=1)
    session_absolute_seconds: int = Field(default=12 * 3600, ge=1)
    #: None: Secure cookies exactly when public_base_url is https.
    cookie_secure: bool | None = None

    # Login throttling (stored in the database, so all server processes agree)
    login_window_seconds: int = Field(default=15 * 60, ge=1)
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=20, ge=1)

    # Request rate limits (per process, token bucket)
    kiosk_requests_per_minute: int = Field(default=6000, ge=1)
    kiosk_burst: int = Field(default=200, ge=1)
    pair_requests_per_minute: int = Field(default=10, ge=1)
    # Per address: phones on the clinic's guest Wi-Fi share one public address, and each open
    # page reloads itself 3 times a minute, so 120 would refuse a full waiting room.
    follow_up_requests_per_minute: int = Field(default=600, ge=1)
    # How often the follow-up page reloads itself while something is still to come.
    follow_up_refresh_seconds: int = Field(default=20, ge=1)

    # Kiosk pairing and follow-up
    pairing_code_minutes: int = Field(default=15, ge=1)
    follow_up_token_days: int = Field(default=2, ge=1)
    #: Used by the wait estimate until enough patients were called in today.
    default_minutes_per_patient: int = Field(default=10, ge=1)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        unsafe_key = self.secret_key == DEFAULT_SECRET_KEY or len(self.secret_key) < 32
        if unsafe_key and self.environment not in UNSAFE_ALLOWED:
            raise ValueError(
                "CLINIC_SECRET_KEY must be set to a random value of at least 32 characters "
                f"outside {sorted(UNSAFE_ALLOWED)} (try: python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))')"
            )
        return self

    @property
    def tz(self) -> ZoneInfo:
        """Return the clinic's timezone ("today" for appointments and queues)."""
        return ZoneInfo(self.timezone)

    @property
    def secure_cookies(self) -> bool:
        """Return whether session cookies get the Secure flag."""
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.public_base_url.startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        """Return whether the database is SQLite."""
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from the config file, then the environment, then overrides."""
        env = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        config_file = env.get(ENV_PREFIX + "CONFIG")
        if config_file:
            with Path(config_file).open("rb") as fh:
                # The [ehr] table belongs to clinic.ehr.config.EhrSettings.
                values.update({k: v for k, v in tomllib.load(fh).items() if k != "ehr"})
        for name in cls.model_fields:
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None:
                values[name] = None if raw == "" and name == "cookie_secure" else raw
        values.update(overrides)
        return cls.model_validate(values)
