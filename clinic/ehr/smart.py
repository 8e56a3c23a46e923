"""SMART Backend Services: a signed JWT client assertion buys an access token, cached.

The private key stays on the server (a PEM file named in the settings). The assertion is
signed RS384 or ES384 with PyJWT, as the SMART App Launch "Backend Services" profile asks.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import jwt
import requests

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 300  # the profile's maximum
REFRESH_MARGIN_SECONDS = 60


class TokenError(RuntimeError):
    """The token endpoint refused us or could not be reached."""


class SmartTokenSource:
    """Hand out a valid access token, asking the token endpoint only when it runs out."""

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        private_key_pem: bytes,
        algorithm: str,
        scope: str,
        key_id: str | None,
        http: requests.Session,
        timeout: float,
    ) -> None:
        self.token_url, self.client_id, self.algorithm = token_url, client_id, algorithm
        self.scope, self.key_id, self.http, self.timeout = scope, key_id, http, timeout
        self._key = private_key_pem
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str, **kwargs: object) -> SmartTokenSource:
        """Build a token source whose private key is read from a PEM file."""
        return cls(private_key_pem=Path(path).read_bytes(), **kwargs)  # type: ignore[arg-type]

    def client_assertion(self, now: float | None = None) -> str:
        """Return a fresh signed client assertion (one jti per request)."""
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url,
            "exp": issued + ASSERTION_LIFETIME_SECONDS,
            "iat": issued,
            "jti": uuid.uuid4().hex,
        }
        headers = {"kid": self.key_id} if self.key_id else None
        return jwt.encode(claims, self._key, algorithm=self.algorithm, headers=headers)

    def token(self) -> str:
        """Return a cached access token, or get a new one."""
        with self._lock:
            if self._token and time.monotonic() < self._expires_at - REFRESH_MARGIN_SECONDS:
                return self._token
            try:
                response = self.http.post(
                    self.token_url,
                    data={
                        "grant_type": "client_credentials",
                        "scope": self.scope,
                        "client_assertion_type": ASSERTION_TYPE,
                        "client_assertion": self.client_assertion(),
                    },
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                raise TokenError(f"token endpoint unreachable: {type(exc).__name__}") from None
            if response.status_code != 200:
                raise TokenError(f"token endpoint answered {response.status_code}")
            body = response.json()
            self._token = str(body["access_token"])
            self._expires_at = time.monotonic() + float(body.get("expires_in", 300))
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token (the FHIR server said 401)."""
        with self._lock:
            self._token = None
