"""Staff password policy: long enough, not common, not derived from the user name.

Guessability comes from zxcvbn (Dropbox's estimator, which ships its frequency lists of
common passwords, words and names and matches l33t, reversed and repeated forms), not from
a hand-typed list. A password is refused when zxcvbn rates it below "safely unguessable"
(score 3: about 10^8 guesses), or when taking the user name out of it leaves too little.
"""

from __future__ import annotations

import re
from typing import Any

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 200
#: zxcvbn score (0-4) a password must reach; 3 = "safely unguessable" in its paper.
MIN_SCORE = 3
#: zxcvbn's matching is quadratic in length; the tail of a long password adds little.
_ESTIMATE_CHARS = 64


def _estimate(password: str, user_inputs: list[str]) -> dict[str, Any]:
    from zxcvbn import zxcvbn  # loads its frequency lists on first use (about 0.3 s)

    result: dict[str, Any] = zxcvbn(password[:_ESTIMATE_CHARS], user_inputs=user_inputs)
    return result


def _username_parts(username: str) -> list[str]:
    name = username.strip().lower()
    parts = [p for p in re.split(r"[^0-9a-z]+", name) if len(p) >= 3]
    return [name, *parts] if name else parts


def password_problem(password: str, *, username: str) -> str | None:
    """Return why a password is refused for this user (a sentence), or None when it is fine."""
    if len(password) < MIN_PASSWORD_CHARS:
        return (
            f"The password must be at least {MIN_PASSWORD_CHARS} characters long "
            f"(this one has {len(password)})."
        )
    if len(password) > MAX_PASSWORD_CHARS:
        return f"The password must be at most {MAX_PASSWORD_CHARS} characters long."
    if not password.strip():
        return "The password cannot be only spaces."
    parts = _username_parts(username)
    result = _estimate(password, parts)
    from_username = [m for m in result["sequence"] if m.get("dictionary_name") == "user_inputs"]
    lowered = password.lower()
    if from_username or any(p in lowered or p[::-1] in lowered for p in parts):
        rest = _without_username(password[:_ESTIMATE_CHARS], from_username, parts)
        if len(rest) < 4 or _estimate(rest, parts)["score"] < MIN_SCORE:
            return (
                "The password is derived from the user name: "
                "without the user name, what is left is too easy to guess."
            )
    if result["score"] < MIN_SCORE:
        if any(
            m.get("dictionary_name") == "passwords" and len(m["token"]) == len(password)
            for m in result["sequence"]
        ):
            return "The password is one of the most common passwords."
        warning = result["feedback"].get("warning") or "It is too easy to guess."
        return f"The password is too easy to guess: {warning.rstrip('.')}."
    return None


def _without_username(password: str, matches: list[dict[str, Any]], parts: list[str]) -> str:
    """Return the password without what zxcvbn matched as the user name, nor its parts."""
    keep = [True] * len(password)
    for m in matches:
        for k in range(int(m["i"]), int(m["j"]) + 1):
            keep[k] = False
    rest = "".join(ch for ch, kept in zip(password, keep, strict=True) if kept)
    for part in sorted(parts, key=len, reverse=True):
        for form in (part, part[::-1]):
            rest = re.sub(re.escape(form), "", rest, flags=re.IGNORECASE)
    return rest
