"""Secrets handling: argon2id passwords, hashed bearer tokens, pairing codes, rate limiting."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults are argon2id with RFC 9106's "low memory" profile.
_hasher = PasswordHasher()
# Verified against when the username is unknown, so timing does not reveal which exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password-" + secrets.token_hex(8))

#: Pairing codes avoid look-alike characters (no 0/O, 1/I/L) so they are easy to type.
PAIRING_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
PAIRING_CODE_LENGTH = 10


def hash_password(password: str) -> str:
    """Return the argon2id hash (PHC string) of a password."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Return whether the password matches; always spends one argon2 verification."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Return whether the hash was made with older parameters."""
    return _hasher.check_needs_rehash(password_hash)


def hash_token(token: str) -> str:
    """Return the SHA-256 hex of a high-entropy token (kiosk token, session id, code)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_kiosk_token() -> str:
    """Return a fresh kiosk bearer token (256 random bits)."""
    return "kt_" + secrets.token_urlsafe(32)


def new_session_id() -> str:
    """Return a fresh staff session id for the cookie (256 random bits)."""
    return secrets.token_urlsafe(32)


def new_csrf_token() -> str:
    """Return a fresh CSRF synchronizer token."""
    return secrets.token_urlsafe(32)


def new_login_csrf_token(secret_key: str) -> str:
    """Return a signed token for the login form (signed double-submit cookie).

    The signature, keyed with the server's secret, stops someone who can plant cookies
    (e.g. from a sibling subdomain) from choosing a cookie/form pair that passes.
    """
    nonce = secrets.token_urlsafe(18)
    return f"{nonce}.{_login_csrf_signature(secret_key, nonce)}"


def login_csrf_token_valid(secret_key: str, token: str) -> bool:
    """Return whether a login CSRF token carries this server's signature."""
    nonce, _, signature = token.partition(".")
    expected = _login_csrf_signature(secret_key, nonce)
    return bool(nonce) and hmac.compare_digest(signature.encode(), expected.encode())


def _login_csrf_signature(secret_key: str, nonce: str) -> str:
    digest = hmac.new(secret_key.encode(), f"login-csrf|{nonce}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def new_pairing_code() -> str:
    """Return a fresh pairing code, shown as XXXXX-XXXXX (about 50 bits)."""
    raw = "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(PAIRING_CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normalize_pairing_code(code: str) -> str:
    """Fold what a person typed (case, spaces, dashes) to the stored form."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def hash_pairing_code(code: str) -> str:
    """Return the stored hash of a pairing code."""
    return hash_token("pair|" + normalize_pairing_code(code))


class RateLimiter:
    """Token buckets per key, in this process's memory (requests/minute with a burst)."""

    def __init__(self, per_minute: int, burst: int | None = None) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst if burst is not None else per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """Take one token for key; return 0 if allowed, else seconds until one is available."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                if len(self._buckets) > 10_000:
                    self._prune(now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        full_after = self.capacity / self.rate
        for key, (_tokens, last) in list(self._buckets.items()):
            if now - last > full_after:
                del self._buckets[key]


def retry_after_header(seconds: float) -> str:
    """Format a Retry-After value (whole seconds, at least 1)."""
    return str(max(1, math.ceil(seconds)))
