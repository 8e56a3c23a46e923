"""TOTP second factor (RFC 6238, via pyotp) and its one-time recovery codes."""

from __future__ import annotations

import secrets
import time

import pyotp
import qrcode
import qrcode.image.svg
from markupsafe import Markup

from clinic.security import hash_token

ISSUER = "Clinic dashboard"
#: Codes of the previous and next 30-second step are accepted too (phone clocks drift).
VALID_WINDOW = 1
RECOVERY_CODE_COUNT = 10
#: Recovery codes avoid look-alike characters; 12 of 31 symbols is about 59 bits.
RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_secret() -> str:
    """Return a fresh base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, *, username: str, issuer: str = ISSUER) -> str:
    """Return the otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def qr_svg(uri: str) -> Markup:
    """Return an inline SVG QR code of the URI (made here: the secret never leaves the page)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=4)
    svg = image.to_string(encoding="unicode")
    # The SVG is generated from a fixed alphabet (otpauth URI of base32 + the user name,
    # percent-encoded by pyotp), so it holds no markup from anyone.
    return Markup(svg)


def accepted_step(
    secret: str, code: str, *, last_step: int | None, now: float | None = None
) -> int | None:
    """Return the time step a code belongs to if it is valid and newer than last_step."""
    code = "".join(ch for ch in code if not ch.isspace())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    at = time.time() if now is None else now
    current = int(at // totp.interval)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue  # a code already used (or older than one used) is refused
        if secrets.compare_digest(totp.at(step * totp.interval), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Return fresh recovery codes, shown once as XXXX-XXXX-XXXX."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(12))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


def looks_like_recovery_code(code: str) -> bool:
    """Return whether what was typed has the shape of a recovery code, not a TOTP code."""
    return len(_normalize(code)) == 12


def hash_recovery_code(code: str) -> str:
    """Return the stored hash of a recovery code (case, spaces and dashes ignored)."""
    return hash_token("recovery|" + _normalize(code))


def _normalize(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())
