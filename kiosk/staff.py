"""The staff corner: the admin PIN with its lock-out, and the settings staff may change."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session

from kiosk import validation
from kiosk.config import DEMO_ADMIN_PIN, ConfigError, KioskSettings
from kiosk.core import KioskCore
from kiosk.facade import N_, InvalidInput
from kiosk.info import InfoDesk
from kiosk.state import StateKey, set_state
from sync.rules import server_base_url

log = logging.getLogger(__name__)

MSG_SERVER_URL = N_("Please enter a web address starting with http:// or https://.")
MSG_IDLE_TIMEOUT = N_("Please enter a number of seconds between 20 and 600.")
MSG_UNKNOWN_SETTING = N_("This setting cannot be changed here.")

IDLE_TIMEOUT_RANGE = (20, 600)


class StaffCorner:
    """Checks the staff PIN (locking out after repeated wrong tries) and edits settings."""

    def __init__(
        self,
        core: KioskCore,
        info: InfoDesk,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.core = core
        self.info = info
        self._monotonic = monotonic
        self._pin_hash = _staff_pin_hash(core.settings)
        self._pin_failures = 0
        self._pin_locked_until = 0.0
        self._pin_lock = threading.Lock()

    def verify_admin_pin(self, pin: str) -> bool:
        """Check the staff PIN; after too many wrong tries, refuse everything for a while."""
        from argon2 import PasswordHasher
        from argon2.exceptions import InvalidHashError, VerificationError

        settings = self.core.settings
        with self._pin_lock:
            if self._monotonic() < self._pin_locked_until:
                return False
            try:
                ok: bool = isinstance(pin, str) and PasswordHasher().verify(self._pin_hash, pin)
            except (VerificationError, InvalidHashError):
                ok = False
            if ok:
                self._pin_failures = 0
                return True
            self._pin_failures += 1
            if self._pin_failures >= settings.admin_max_attempts:
                self._pin_failures = 0
                self._pin_locked_until = self._monotonic() + settings.admin_lockout_seconds
                log.warning("admin PIN locked after repeated wrong tries")
            return False

    def admin_lockout_remaining(self) -> int:
        """Return the whole seconds left before the PIN may be tried again (0 if none)."""
        left = self._pin_locked_until - self._monotonic()
        return max(0, int(left + 0.999))

    def admin_settings(self) -> dict[str, str]:
        """Return the settings staff may change: server_url, default_language, idle timeout."""
        with self.core.db.read_session() as session:
            server_url = self.core.server_url(session)
        return {
            "server_url": server_url,
            "default_language": self.info.clinic_info().default_language,
            "idle_timeout_seconds": str(self.info.idle_timeout_seconds()),
        }

    def save_admin_settings(self, values: dict[str, str]) -> None:
        """Validate and store staff changes (all or nothing)."""
        changes: dict[StateKey, str] = {}
        for key, raw in values.items():
            text = str(raw).strip()
            if key == "server_url":
                changes[StateKey.SERVER_URL] = check_server_url(text)
            elif key == "default_language":
                if text not in self.core.languages():
                    raise InvalidInput(validation.MSG_LANGUAGE, key)
                changes[StateKey.DEFAULT_LANGUAGE] = text
            elif key == "idle_timeout_seconds":
                low, high = IDLE_TIMEOUT_RANGE
                if not (text.isascii() and text.isdigit() and low <= int(text) <= high):
                    raise InvalidInput(MSG_IDLE_TIMEOUT, key)
                changes[StateKey.IDLE_TIMEOUT_SECONDS] = str(int(text))
            else:
                raise InvalidInput(MSG_UNKNOWN_SETTING, key)

        def action(session: Session) -> None:
            for state_key, value in changes.items():
                set_state(state_key, value, session=session)

        self.core.write(action)


def _staff_pin_hash(settings: KioskSettings) -> str:
    """Return the configured staff PIN hash; the public demo PIN only in demo mode."""
    if settings.admin_pin_hash:
        return settings.admin_pin_hash
    if settings.demo:
        return _demo_pin_hash()
    raise ConfigError("missing setting admin_pin_hash (KIOSK_ADMIN_PIN_HASH)")


@functools.lru_cache(maxsize=1)
def _demo_pin_hash() -> str:
    """Hash the demo PIN once per process; cheap parameters, as the demo PIN is public."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(DEMO_ADMIN_PIN)


def check_server_url(text: str) -> str:
    """Return a clinic server base URL (sync.rules.server_base_url) or raise InvalidInput."""
    url = server_base_url(text)
    if url is None:
        raise InvalidInput(MSG_SERVER_URL, "server_url")
    return url
