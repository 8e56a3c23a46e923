"""Kiosk settings: one class, read from a TOML file plus KIOSK_* environment overrides.

Precedence (last wins): built-in defaults < TOML file < environment. Every key is
documented in docs/kiosk-config.md. Production is the default: outside demo mode (``--demo``)
the settings refuse to start without a staff PIN hash and a server URL, and refuse a hash of
the demo PIN.

    python -m kiosk.config hash-pin      # prompt for a PIN and print its argon2 hash
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


@dataclass(frozen=True)
class KioskSettings:
    """Everything configurable about one kiosk."""

    data_dir: Path = Path("var/kiosk")
    db_path: Path | None = None  # default: <data_dir>/kiosk.sqlite3
    clinic_name: str = "Demo Clinic"
    clinic_phone: str | None = None
    logo_path: Path | None = None
    server_url: str = ""  # required outside demo mode
    kiosk_letter: str = "A"
    default_language: str = "en"
    languages: tuple[str, ...] = ("en", "es")
    timezone: str = "UTC"
    idle_timeout_seconds: int = 60
    # the "Still there?" warning: at least 20 s, time to hear it and press a key
    idle_countdown_seconds: int = 20
    receipt_seconds: int = 20  # the queue number and QR code go away after this
    check_in_early_minutes: int = 30
    check_in_late_minutes: int = 15
    rating_dedupe_seconds: int = 10
    minutes_per_patient: int = 10
    # hours identifying fields stay after the server's ack; 0: until the end of that clinic day
    retention_hours: int = 0
    # days an acknowledged record (stripped of identifying fields) stays before it is deleted
    sent_retention_days: int = 14
    admin_pin_hash: str | None = None  # argon2 hash; required outside demo mode
    admin_max_attempts: int = 5
    admin_lockout_seconds: int = 60
    demo: bool = False
    emergency_words_path: Path | None = None  # default: assets/emergency_words.json

    def __post_init__(self) -> None:
        if self.demo and not self.server_url:
            object.__setattr__(self, "server_url", DEMO_SERVER_URL)
        self._check()

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
        return dataclasses.replace(self, **changes)

    # ---------------------------------------------------------------------------------
    def _check(self) -> None:
        if not self.demo:
            missing = [
                f"{key} ({ENV_PREFIX}{key.upper()})"
                for key in ("server_url", "admin_pin_hash")
                if not getattr(self, key)
            ]
            if missing:
                raise ConfigError(
                    f"missing setting {' and '.join(missing)}: required outside demo mode "
                    "(see docs/kiosk-config.md; make a PIN hash with: kiosk-config hash-pin; "
                    "or start the demo with --demo)"
                )
        if not (
            len(self.kiosk_letter) == 1
            and self.kiosk_letter.isascii()
            and self.kiosk_letter.isalpha()
            and self.kiosk_letter.isupper()
        ):
            raise ConfigError("kiosk_letter must be one upper-case letter A-Z")
        if not self.languages:
            raise ConfigError("languages must list at least one language")
        for language in self.languages:
            if not _LANGUAGE_RE.match(language):
                raise ConfigError(f"languages: {language!r} is not a code like en or pt_BR")
        if self.default_language not in self.languages:
            raise ConfigError("default_language must be one of languages")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"timezone {self.timezone!r} is not a known zone name") from None
        if not self.server_url.startswith(("http://", "https://")):
            raise ConfigError("server_url must start with http:// or https://")
        positive = {
            "idle_timeout_seconds": self.idle_timeout_seconds,
            "idle_countdown_seconds": self.idle_countdown_seconds,
            "receipt_seconds": self.receipt_seconds,
            "minutes_per_patient": self.minutes_per_patient,
            "admin_max_attempts": self.admin_max_attempts,
            "sent_retention_days": self.sent_retention_days,
        }
        for key, value in positive.items():
            if value <= 0:
                raise ConfigError(f"{key} must be greater than 0")
        non_negative = {
            "check_in_early_minutes": self.check_in_early_minutes,
            "check_in_late_minutes": self.check_in_late_minutes,
            "rating_dedupe_seconds": self.rating_dedupe_seconds,
            "retention_hours": self.retention_hours,
            "admin_lockout_seconds": self.admin_lockout_seconds,
        }
        for key, value in non_negative.items():
            if value < 0:
                raise ConfigError(f"{key} must not be negative")
        if self.idle_countdown_seconds < MIN_IDLE_COUNTDOWN_SECONDS:
            raise ConfigError(
                f"idle_countdown_seconds must be {MIN_IDLE_COUNTDOWN_SECONDS} or more"
            )
        if self.idle_countdown_seconds >= self.idle_timeout_seconds:
            raise ConfigError("idle_countdown_seconds must be shorter than idle_timeout_seconds")
        if not self.demo and self.admin_pin_hash and _verifies(self.admin_pin_hash, DEMO_ADMIN_PIN):
            raise ConfigError("admin_pin_hash is the demo PIN; choose another PIN")
        if self.admin_pin_hash and not self.admin_pin_hash.startswith("$argon2"):
            raise ConfigError("admin_pin_hash must be an argon2 hash ($argon2id$...)")

    # ---------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        environ: dict[str, str] | None = None,
        **overrides: Any,
    ) -> KioskSettings:
        """Read settings from a TOML file (or $KIOSK_CONFIG), then KIOSK_* variables."""
        env = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        config_path = path if path is not None else env.get(DEFAULT_CONFIG_PATH_ENV)
        if config_path:
            try:
                with open(config_path, "rb") as handle:
                    raw = tomllib.load(handle)
            except FileNotFoundError:
                raise ConfigError(f"config file not found: {config_path}") from None
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"config file {config_path} is not valid TOML: {exc}") from None
            kiosk_table = raw.get("kiosk", raw)
            if not isinstance(kiosk_table, dict):
                raise ConfigError("[kiosk] must be a table")
            values.update(kiosk_table)
        for name in _field_types():
            env_name = ENV_PREFIX + name.upper()
            if env_name in env:
                values[name] = env[env_name]
        values.update(overrides)
        return cls(**_coerce(values))


def _field_types() -> dict[str, str]:
    return {f.name: str(f.type) for f in dataclasses.fields(KioskSettings)}


_BOOL_WORDS = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


def _coerce(values: dict[str, Any]) -> dict[str, Any]:
    """Convert TOML/env values to the field types, with a ConfigError naming the key."""
    types = _field_types()
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in types:
            raise ConfigError(f"unknown setting {key!r}")
        kind = types[key]
        try:
            if value is None:
                out[key] = None
            elif kind == "int":
                if isinstance(value, bool):
                    raise TypeError
                out[key] = int(value)
            elif kind == "bool":
                out[key] = value if isinstance(value, bool) else _BOOL_WORDS[str(value).lower()]
            elif "Path" in kind:
                out[key] = Path(value).expanduser() if str(value) else None
            elif kind.startswith("tuple"):
                items = value.split(",") if isinstance(value, str) else list(value)
                out[key] = tuple(str(item).strip() for item in items if str(item).strip())
            elif "str" in kind:
                out[key] = str(value) if str(value) != "" or kind == "str" else None
            else:  # pragma: no cover - every field type is handled above
                out[key] = value
        except (TypeError, ValueError, KeyError):
            raise ConfigError(f"setting {key!r} has an invalid value") from None
    return out


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
