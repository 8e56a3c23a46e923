"""Clinic server settings: one class, read by pydantic-settings from CLINIC_* and a TOML file.

Precedence (first wins): keyword arguments of ``Settings.from_env`` > environment
(CLINIC_<FIELD>) > config file (CLINIC_CONFIG=/path/to/clinic.toml, top-level keys named
like the fields; its [ehr] table belongs to clinic.ehr.config.EhrSettings) > defaults.
``Settings(...)`` alone takes only the values given (tests). Why this loader:
docs/decisions/0007-settings-loader.md. Production is the default environment. Outside
``environment = "test"`` the placeholder secret and any short or low-entropy secret key are
refused (the demo makes a random one). Errors name the key and never echo a value.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections import Counter
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings.sources.utils import parse_env_vars

DEFAULT_SECRET_KEY = "dev-only-insecure-secret-key-change-me"
ENV_PREFIX = "CLINIC_"
#: Names the TOML file of the server's settings (both Settings and EhrSettings read it).
CONFIG_ENV = "CLINIC_CONFIG"
#: Tables of the CLINIC_CONFIG file that belong to a settings class of their own.
TOML_TABLES = ("ehr",)
#: Only the test suite may run with a weak or placeholder secret.
UNSAFE_ALLOWED = frozenset({"test"})
MIN_SECRET_CHARS = 32
#: Estimated bits of a secret (length x per-character Shannon entropy) that count as random:
#: secrets.token_urlsafe(48) gives about 350, "k" * 40 gives 0, a repeated short word little.
MIN_SECRET_BITS = 128
MIN_SECRET_DISTINCT_CHARS = 12
#: A kiosk's last contact is stored to about 2 minutes (clinic/kiosks.py, clinic/deps.py):
#: a shorter silence could be an artefact of that, not a silent kiosk.
MIN_KIOSK_SILENT_MINUTES = 3


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


# _Layers, _LOADING, _MappingEnvSource and settings_customise_sources repeat kiosk/config.py's on
# purpose: the import contract (docs/decisions/0005) lets the two ends share only
# sync.protocol. Keep them in step (docs/decisions/0007-settings-loader.md).
@dataclass(frozen=True)
class _Layers:
    """What from_env reads besides its keyword arguments."""

    environ: Mapping[str, str]
    path: Path | None


#: Set while from_env builds an instance; plain construction reads no source.
_LOADING: ContextVar[_Layers | None] = ContextVar("clinic_settings_loading", default=None)


class _MappingEnvSource(EnvSettingsSource):
    """<prefix><FIELD> variables from a given mapping: os.environ, or a test's own dict."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ  # read by _load_env_vars during super().__init__
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


class _TomlTableSource(TomlConfigSettingsSource):
    """One table of the CLINIC_CONFIG file; None: its top level without the tables named."""

    def __init__(
        self, settings_cls: type[BaseSettings], path: Path | None, table: str | None
    ) -> None:
        self._table = table
        super().__init__(settings_cls, toml_file=path)

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        data = super()._read_file(file_path)
        if self._table is None:
            return {key: value for key, value in data.items() if key not in TOML_TABLES}
        table = data.get(self._table, {})
        if not isinstance(table, dict):
            raise ValueError(f"{CONFIG_ENV}: [{self._table}] must be a table")
        return table


class LayeredSettings(BaseSettings):
    """A settings class that from_env reads from the environment and the CLINIC_CONFIG file."""

    #: The CLINIC_CONFIG table this class reads (None: the top level).
    toml_table: ClassVar[str | None] = None

    # Same steps as KioskSettings.load (kiosk/config.py): kept apart, see _Layers.
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        """Build settings: keyword arguments > environment > config file > defaults."""
        env = os.environ if environ is None else environ
        config_file = env.get(CONFIG_ENV)
        path = Path(config_file).expanduser() if config_file else None
        if path is not None and not path.is_file():
            raise FileNotFoundError(f"{CONFIG_ENV} names no file: {config_file}")
        token = _LOADING.set(_Layers(env, path))
        try:
            return cls(**overrides)
        finally:
            _LOADING.reset(token)

    # Same as KioskSettings.settings_customise_sources (kiosk/config.py): kept apart, see _Layers.
    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """First wins: keyword arguments, then (in from_env) the environment, then the file."""
        layers = _LOADING.get()
        if layers is None:
            return (init_settings,)
        return (
            init_settings,
            _MappingEnvSource(settings_cls, layers.environ),
            _TomlTableSource(settings_cls, layers.path, cls.toml_table),
        )


class Settings(LayeredSettings):
    """Everything an operator may configure; safe defaults for a laptop demo."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, hide_input_in_errors=True
    )

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
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()

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
    #: Alert when a paired kiosk has not been heard from for this many minutes (0: off; at
    #: least 3 otherwise: a kiosk's last contact is stored to about 2 minutes, see
    #: clinic/kiosks.py and clinic/deps.py).
    alert_kiosk_silent_minutes: int = Field(default=10, ge=0)
    #: At most one e-mail per alert kind in this many minutes (emergencies always go out).
    alert_email_repeat_minutes: int = Field(default=15, ge=0)
    #: Where alert e-mails go (environment: comma-separated); empty: no e-mail.
    alert_email_to: Annotated[tuple[str, ...], NoDecode] = ()
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

    # Same check as kiosk/config.py's _known_zone: kept apart as clinic never imports kiosk.
    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @field_validator("alert_kiosk_silent_minutes")
    @classmethod
    def _silent_after_last_contact_granularity(cls, value: int) -> int:
        if 0 < value < MIN_KIOSK_SILENT_MINUTES:
            raise ValueError(f"must be 0 (off) or at least {MIN_KIOSK_SILENT_MINUTES} minutes")
        return value

    @field_validator("trusted_proxies", "alert_email_to", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("cookie_secure", "api_docs", mode="before")
    @classmethod
    def _empty_is_automatic(cls, value: Any) -> Any:
        return None if value == "" else value  # CLINIC_API_DOCS= : decided by the environment

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
