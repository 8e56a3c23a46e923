"""Kiosk settings: one class, read by pydantic-settings from a TOML file and KIOSK_* variables.

Precedence (last wins): built-in defaults < TOML file < environment < keyword arguments of
``KioskSettings.load``. Every key is documented in docs/kiosk-config.md
(docs/decisions/0007-settings-loader.md says why this loader). Production is the default:
outside demo mode (``--demo``) the settings refuse to start without a staff PIN hash and a
server URL, and refuse a hash of the demo PIN. A bad value raises ConfigError naming the key
and its variable, never echoing the value.

    python -m kiosk.config hash-pin      # prompt for a PIN and print its argon2 hash
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings.sources.utils import parse_env_vars

from sync.rules import server_base_url

#: The staff PIN of the demo kiosk (documented in docs/kiosk-demo.md); refused outside demo.
DEMO_ADMIN_PIN = "1234"
#: Where a demo kiosk's follow-up links point when no server_url is given.
DEMO_SERVER_URL = "http://127.0.0.1:8000"
DEFAULT_CONFIG_PATH_ENV = "KIOSK_CONFIG"
ENV_PREFIX = "KIOSK_"
#: The idle warning comes at least this long before the reset (time to hear it and react).
MIN_IDLE_COUNTDOWN_SECONDS = 20
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")  # as sync.protocol.Language


class ConfigError(ValueError):
    """A settings value that is missing, malformed or unsafe (message names the key)."""


def env_name(key: str) -> str:
    """Return the environment variable that sets a key (``KIOSK_<KEY>``)."""
    return ENV_PREFIX + key.upper()


class KioskSettings(BaseSettings):
    """Everything configurable about one kiosk.

    ``KioskSettings(...)`` takes only the values given (tests); ``KioskSettings.load`` adds
    the TOML file and the environment.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, hide_input_in_errors=True
    )

    # First: server_url's check reads it (a demo kiosk gets DEMO_SERVER_URL).
    demo: bool = False
    data_dir: Path = Path("var/kiosk")
    db_path: Path | None = None  # default: <data_dir>/kiosk.sqlite3
    clinic_name: str = "Demo Clinic"
    clinic_phone: str | None = None
    logo_path: Path | None = None
    server_url: str = ""  # required outside demo mode
    kiosk_letter: str = "A"
    default_language: str = "en"
    # environment: comma-separated (NoDecode: not JSON)
    languages: Annotated[tuple[str, ...], NoDecode] = ("en", "es")
    timezone: str = "UTC"
    idle_timeout_seconds: int = Field(default=60, gt=0)
    # the "Still there?" warning: at least 20 s, time to hear it and press a key
    idle_countdown_seconds: int = Field(default=20, ge=MIN_IDLE_COUNTDOWN_SECONDS)
    receipt_seconds: int = Field(default=20, gt=0)  # the queue number and QR code go after it
    check_in_early_minutes: int = Field(default=30, ge=0)
    check_in_late_minutes: int = Field(default=15, ge=0)
    rating_dedupe_seconds: int = Field(default=10, ge=0)
    minutes_per_patient: int = Field(default=10, gt=0)
    # hours identifying fields stay after the server's ack; 0: until the end of that clinic day
    retention_hours: int = Field(default=0, ge=0)
    # days an acknowledged record (stripped of identifying fields) stays before it is deleted
    sent_retention_days: int = Field(default=14, gt=0)
    admin_pin_hash: str | None = None  # argon2 hash; required outside demo mode
    admin_max_attempts: int = Field(default=5, gt=0)
    admin_lockout_seconds: int = Field(default=60, ge=0)
    emergency_words_path: Path | None = None  # default: assets/emergency_words.json

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise ConfigError(_describe(error)) from None

    # ---------------------------------------------------------------------------------
    @property
    def database_path(self) -> Path:
        """Return the SQLite file path (db_path, or kiosk.sqlite3 inside data_dir)."""
        return self.db_path if self.db_path is not None else self.data_dir / "kiosk.sqlite3"

    @property
    def tz(self) -> ZoneInfo:
        """Return the clinic's time zone."""
        return ZoneInfo(self.timezone)

    def replace(self, **changes: Any) -> KioskSettings:
        """Return a copy with some values changed (validated again)."""
        return type(self)(**{**self.model_dump(), **changes})

    # --- loading -----------------------------------------------------------------------
    # Same steps as LayeredSettings.from_env (clinic/config.py): kept apart, see _Layers.
    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> KioskSettings:
        """Read settings from a TOML file (or $KIOSK_CONFIG), then KIOSK_* variables."""
        env = os.environ if environ is None else environ
        config_path = path if path is not None else env.get(DEFAULT_CONFIG_PATH_ENV)
        if config_path and not Path(config_path).expanduser().is_file():
            raise ConfigError(f"config file not found: {config_path}")
        token = _LOADING.set(_Layers(env, Path(config_path) if config_path else None))
        try:
            return cls(**overrides)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {config_path} is not valid TOML: {exc}") from None
        finally:
            _LOADING.reset(token)

    # Same as LayeredSettings.settings_customise_sources in clinic/config.py: apart, see _Layers.
    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """First wins: keyword arguments, then (in load) the environment, then the file."""
        layers = _LOADING.get()
        if layers is None:
            return (init_settings,)
        return (
            init_settings,
            _MappingEnvSource(settings_cls, layers.environ),
            _KioskTomlSource(settings_cls, layers.path),
        )

    # --- checks (a ValueError here becomes a ConfigError naming the key) --------------
    @field_validator("*", mode="before")
    @classmethod
    def _plain_values(cls, value: Any, info: ValidationInfo) -> Any:
        """Read "" as unset for the optional keys; refuse true/false for a number."""
        annotation = cls.model_fields[str(info.field_name)].annotation
        if value == "" and type(None) in get_args(annotation):
            return None
        if isinstance(value, bool) and annotation is int:
            raise ValueError("must be a whole number, not true or false")
        return value

    @field_validator("data_dir", "db_path", "logo_path", "emergency_words_path")
    @classmethod
    def _expand_home(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("languages", mode="before")
    @classmethod
    def _split_languages(cls, value: Any) -> Any:
        items = value.split(",") if isinstance(value, str) else value
        if isinstance(items, list | tuple):
            return tuple(str(item).strip() for item in items if str(item).strip())
        return items

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must list at least one language")
        for language in value:
            if not _LANGUAGE_RE.match(language):
                raise ValueError(f"{language!r} is not a code like en or pt_BR")
        return value

    @field_validator("kiosk_letter")
    @classmethod
    def _one_capital(cls, value: str) -> str:
        if not (len(value) == 1 and value.isascii() and value.isalpha() and value.isupper()):
            raise ValueError("must be one upper-case letter A-Z")
        return value

    # Same check as clinic/config.py's _known_timezone: kept apart as clinic never imports kiosk.
    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known zone name") from None
        return value

    @field_validator("server_url")
    @classmethod
    def _http_url(cls, value: str, info: ValidationInfo) -> str:
        if not value and info.data.get("demo"):
            return DEMO_SERVER_URL
        if not value:
            return value  # empty: refused outside demo mode below, with the other missing keys
        url = server_base_url(value)
        if url is None:
            raise ValueError("must be an http:// or https:// address with a host (no ? or #)")
        return url

    @field_validator("admin_pin_hash")
    @classmethod
    def _argon2_hash(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("$argon2"):
            raise ValueError("must be an argon2 hash ($argon2id$...)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> KioskSettings:
        if not self.demo:
            missing = [
                f"{key} ({env_name(key)})"
                for key, value in (
                    ("server_url", self.server_url),
                    ("admin_pin_hash", self.admin_pin_hash),
                )
                if not value
            ]
            if missing:
                raise ValueError(
                    f"missing setting {' and '.join(missing)}: required outside demo mode "
                    "(see docs/kiosk-config.md; make a PIN hash with: kiosk-config hash-pin; "
                    "or start the demo with --demo)"
                )
        if self.default_language not in self.languages:
            raise ValueError(
                f"default_language ({env_name('default_language')}) must be one of languages"
            )
        if self.idle_countdown_seconds >= self.idle_timeout_seconds:
            raise ValueError("idle_countdown_seconds must be shorter than idle_timeout_seconds")
        if not self.demo and self.admin_pin_hash and _verifies(self.admin_pin_hash, DEMO_ADMIN_PIN):
            raise ValueError("admin_pin_hash is the demo PIN; choose another PIN")
        return self


# _Layers, _LOADING, _MappingEnvSource and settings_customise_sources repeat clinic/config.py's on
# purpose: the import contract (docs/decisions/0005) lets the two ends share only
# sync.protocol. Keep them in step (docs/decisions/0007-settings-loader.md).
@dataclass(frozen=True)
class _Layers:
    """What KioskSettings.load reads besides its keyword arguments."""

    environ: Mapping[str, str]
    path: Path | None


#: Set while KioskSettings.load builds an instance; plain construction reads no source.
_LOADING: ContextVar[_Layers | None] = ContextVar("kiosk_settings_loading", default=None)


class _MappingEnvSource(EnvSettingsSource):
    """KIOSK_<KEY> variables from a given mapping: os.environ, or a test's own dict."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ  # read by _load_env_vars during super().__init__
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


class _KioskTomlSource(TomlConfigSettingsSource):
    """The file's [kiosk] table, or its top level when it has none."""

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        data = super()._read_file(file_path)
        table = data.get("kiosk", data)
        if not isinstance(table, dict):
            raise ConfigError("[kiosk] must be a table")
        return table


def _describe(error: ValidationError) -> str:
    """Say what is wrong with each key, with its variable; never echo a value."""
    problems = []
    for item in error.errors():
        key = str(item["loc"][0]) if item["loc"] else ""
        if item["type"] == "extra_forbidden":
            problems.append(f"unknown setting {key!r}")
            continue
        text = str(item["ctx"]["error"]) if item["type"] == "value_error" else item["msg"]
        problems.append(f"{key} ({env_name(key)}): {text}" if key else text)
    return "; ".join(problems)


def _verifies(pin_hash: str, pin: str) -> bool:
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return PasswordHasher().verify(pin_hash, pin)
    except (VerificationError, InvalidHashError):
        return False


def hash_pin(pin: str) -> str:
    """Return the argon2 hash of an admin PIN (for admin_pin_hash)."""
    from argon2 import PasswordHasher

    return PasswordHasher().hash(pin)


def main(argv: list[str] | None = None) -> int:
    """Print an argon2 hash for a PIN typed at the prompt (`hash-pin`)."""
    import getpass
    import sys

    args = sys.argv[1:] if argv is None else argv
    if args[:1] != ["hash-pin"]:
        print("usage: python -m kiosk.config hash-pin", file=sys.stderr)
        return 2
    pin = getpass.getpass("Admin PIN: ")
    if len(pin) < 4 or pin == DEMO_ADMIN_PIN:
        print("choose a PIN of at least 4 characters, not the demo PIN", file=sys.stderr)
        return 1
    print(hash_pin(pin))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
