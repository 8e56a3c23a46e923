"""Clinic server settings: one class, read from CLINIC_* environment variables and/or a TOML file.

Precedence: explicit keyword arguments > environment (CLINIC_<FIELD>) > config file
(CLINIC_CONFIG=/path/to/clinic.toml, top-level keys named like the fields) > defaults.
Production is the default environment. Outside ``environment = "test"`` the placeholder
secret and any short or low-entropy secret key are refused (the demo makes a random one).
"""

from __future__ import annotations

import ipaddress
import math
import os
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_SECRET_KEY = "dev-only-insecure-secret-key-change-me"
ENV_PREFIX = "CLINIC_"
#: Only the test suite may run with a weak or placeholder secret.
UNSAFE_ALLOWED = frozenset({"test"})
MIN_SECRET_CHARS = 32
#: Estimated bits of a secret (length x per-character Shannon entropy) that count as random:
#: secrets.token_urlsafe(48) gives about 350, "k" * 40 gives 0, a repeated short word little.
MIN_SECRET_BITS = 128
MIN_SECRET_DISTINCT_CHARS = 12


def secret_key_problem(secret: str) -> str | None:
    """Say why a secret key is unsafe (placeholder, short, low entropy), or None if it is fine."""
    if secret == DEFAULT_SECRET_KEY:
        return "is the public placeholder"
    if len(secret) < MIN_SECRET_CHARS:
        return f"is shorter than {MIN_SECRET_CHARS} characters"
    counts = Counter(secret)
    per_char = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    if len(counts) < MIN_SECRET_DISTINCT_CHARS or per_char * len(secret) < MIN_SECRET_BITS:
        return "has too little entropy (repeated or few distinct characters)"
    return None


class Settings(BaseModel):
    """Everything an operator may configure; safe defaults for a laptop demo."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    environment: Literal["dev", "demo", "test", "production"] = "production"
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

    # Login throttling (stored in the database, so all server processes agree). See
    # docs/security.md: no rule lets failures from one address refuse another address.
    login_window_seconds: int = Field(default=15 * 60, ge=1)
    #: Failures on one account from one address before that address waits for the window.
    login_max_failures_per_account: int = Field(default=5, ge=1)
    #: Failures from one address (any accounts) before that address waits for the window.
    login_max_failures_per_address: int = Field(default=20, ge=1)
    #: Failures on one account (all addresses) before addresses that failed on it slow down.
    login_slowdown_after_failures: int = Field(default=3, ge=1)
    #: First delay of the slow-down; it doubles with each further failure on the account...
    login_slowdown_base_seconds: int = Field(default=2, ge=1)
    #: ...up to this many seconds between attempts.
    login_slowdown_max_seconds: int = Field(default=60, ge=1)
    #: Proxies (addresses or CIDRs) whose X-Forwarded-For / X-Forwarded-Proto are believed;
    #: from anyone else those headers are ignored. Environment: comma-separated.
    trusted_proxies: tuple[str, ...] = ()

    #: Interactive API docs (/docs, /redoc, /openapi.json); None: on except in production.
    api_docs: bool | None = None

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
    # Kiosk clocks: a record's timestamps later than receipt + clock_skew_seconds, or older
    # than max_record_age_days, are flagged and replaced by the time of receipt.
    clock_skew_seconds: int = Field(default=5 * 60, ge=0)
    max_record_age_days: int = Field(default=30, ge=1)

    # Retention (docs/security.md): names, birth dates, contact details and question texts
    # older than this are erased by `clinic-server purge`, which the server runs daily.
    retention_days: int = Field(default=90, ge=1)
    #: Seconds between the in-app purge's checks (0: never run in the app; use the CLI).
    purge_check_seconds: int = Field(default=3600, ge=0)

    #: Used by the wait estimate until enough patients were called in today.
    default_minutes_per_patient: int = Field(default=10, ge=1)

    # Live dashboard and alerts (docs/live.md)
    #: Seconds between the alert checker's runs (one process runs each; 0: never in the app).
    alert_check_seconds: int = Field(default=15, ge=0)
    #: Alert when a question is still unanswered this many minutes after it was asked (0: off).
    alert_question_unanswered_minutes: int = Field(default=15, ge=0)
    #: Alert when a patient has waited this many minutes without being called (0: off).
    alert_patient_waiting_minutes: int = Field(default=45, ge=0)
    #: Alert when a paired kiosk has not been heard from for this many minutes (0: off).
    alert_kiosk_silent_minutes: int = Field(default=10, ge=0)
    #: At most one e-mail per alert kind in this many minutes (emergencies always go out).
    alert_email_repeat_minutes: int = Field(default=15, ge=0)
    #: Where alert e-mails go (environment: comma-separated); empty: no e-mail.
    alert_email_to: tuple[str, ...] = ()
    alert_email_from: str = "clinic-alerts@localhost"
    #: The clinic's SMTP server; empty host: no e-mail.
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    #: "starttls" (port 587), "tls" (implicit TLS, port 465) or "none" (loopback relay only).
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_timeout_seconds: int = Field(default=10, ge=1)
    #: CA bundle to verify the SMTP server with (default: the system's).
    smtp_ca_file: str = ""
    #: Live events between processes: "auto" (PostgreSQL LISTEN/NOTIFY when the database
    #: is PostgreSQL, else this process only), "postgres" or "local".
    live_backend: Literal["auto", "postgres", "local"] = "auto"
    #: Limits, throttles and time windows: "auto" (in PostgreSQL when the database is
    #: PostgreSQL, shared by every process and host; in this process's memory on SQLite).
    limits_backend: Literal["auto", "database", "memory"] = "auto"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @field_validator("trusted_proxies", "alert_email_to", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        normalized = []
        for item in value:
            try:
                network = ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"trusted_proxies: {item!r} is not an address or CIDR") from None
            single = network.num_addresses == 1 and "/" not in item
            normalized.append(str(network.network_address) if single else str(network))
        return tuple(normalized)

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        problem = secret_key_problem(self.secret_key)
        if problem and self.environment not in UNSAFE_ALLOWED:
            raise ValueError(
                f"CLINIC_SECRET_KEY {problem}: set it to a random value of at least "
                f"{MIN_SECRET_CHARS} characters (environment {self.environment!r}; try: "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))')"
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
    def https(self) -> bool:
        """Return whether the public URL is https (then responses carry HSTS)."""
        return self.public_base_url.startswith("https://")

    @property
    def api_docs_enabled(self) -> bool:
        """Return whether /docs, /redoc and /openapi.json are served."""
        if self.api_docs is not None:
            return self.api_docs
        return self.environment != "production"

    @property
    def shared_limits(self) -> bool:
        """Return whether limits and throttles are kept in the database (all processes)."""
        if self.limits_backend == "auto":
            return self.database_url.startswith("postgresql")
        return self.limits_backend == "database"

    @property
    def live_via_postgres(self) -> bool:
        """Return whether live events travel between processes by LISTEN/NOTIFY."""
        if self.live_backend == "auto":
            return self.database_url.startswith("postgresql")
        return self.live_backend == "postgres"

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
                nullable = name in ("cookie_secure", "api_docs")
                values[name] = None if raw == "" and nullable else raw
        values.update(overrides)
        return cls.model_validate(values)
