"""HTTP client for the kiosk API: one requests.Session, explicit timeouts, typed failures.

Every call either returns a parsed protocol object or raises one of:
- `Unauthorized` (401) / `Revoked` (403): the token no longer works; stop and tell admin;
- `Retryable`: try the same request later (timeouts, connection errors, 408, 429, 5xx but
  501/505), carrying the server's Retry-After in seconds when it gave one;
- `Refused`: the server will not take this request as it is (413, 422, other 4xx, 501...).

No Kivy, no database here; the worker decides what a failure means for the outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from uuid import UUID

import requests
from pydantic import ValidationError

from sync.protocol import (
    HEARTBEAT_PATH,
    INGEST_PATH,
    MAX_BATCH_RECORDS,
    PAIR_PATH,
    PULL_PATH,
    PULL_WAIT_RANGES_PARAM,
    Heartbeat,
    HeartbeatResponse,
    IngestResponse,
    KioskPull,
    PairRequest,
    PairResponse,
    RecordResult,
    WireRecord,
)
from sync.retry import is_retryable_status, parse_retry_after

#: (connect, read) seconds. Connect is short: on a LAN a live server answers at once.
DEFAULT_TIMEOUT = (3.05, 15.0)


class SyncError(Exception):
    """Base class of every failure the client reports."""


class Unauthorized(SyncError):
    """The server does not accept this kiosk's token (401)."""


class Revoked(Unauthorized):
    """The server knows this kiosk but has revoked it (403)."""


class Retryable(SyncError):
    """The request may succeed later; `retry_after` is the server's wish in seconds, if any."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Refused(SyncError):
    """The server refuses this request as it is (413, 422, other 4xx): do not resend it."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class PullResult:
    pull: KioskPull
    etag: str | None


def _detail(response: requests.Response) -> str:
    """Return a short reason from an error response (the server's `detail`, else the reason)."""
    try:
        data = response.json()
    except ValueError:
        return response.reason or f"HTTP {response.status_code}"
    detail = data.get("detail") if isinstance(data, dict) else None
    if isinstance(detail, str):
        return detail[:300]
    if isinstance(detail, list):  # FastAPI validation errors: keep the locations, not inputs
        locs = [
            ".".join(str(p) for p in item.get("loc", []))
            for item in detail[:5]
            if isinstance(item, dict)
        ]
        return "invalid request: " + ", ".join(locs)
    return response.reason or f"HTTP {response.status_code}"


class KioskClient:
    """Talk to one clinic server as one kiosk."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers["Accept"] = "application/json"
        #: The server's clock from the last response's HTTP Date header (1 s resolution).
        self.last_server_date: datetime | None = None

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    # --- plumbing --------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> requests.Response:
        all_headers = dict(headers or {})
        if auth:
            if not self.token:
                raise Unauthorized("not paired")
            all_headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                json=json_body,
                headers=all_headers,
                timeout=self.timeout,
            )
        except requests.Timeout as exc:
            raise Retryable(f"timeout: {type(exc).__name__}") from None
        except requests.ConnectionError as exc:
            raise Retryable(f"connection error: {type(exc).__name__}") from None
        except requests.RequestException as exc:  # e.g. a broken chunked body mid-read
            raise Retryable(f"request failed: {type(exc).__name__}") from None
        self._note_server_date(response)
        status = response.status_code
        if status < 400 or status == 304:
            return response
        if status == 401:
            raise Unauthorized(_detail(response))
        if status == 403:
            raise Revoked(_detail(response))
        if is_retryable_status(status):
            retry_after = parse_retry_after(
                response.headers.get("Retry-After"), now=datetime.now(UTC)
            )
            raise Retryable(f"HTTP {status}: {_detail(response)}", retry_after)
        raise Refused(status, _detail(response))

    def _note_server_date(self, response: requests.Response) -> None:
        try:
            moment = parsedate_to_datetime(response.headers.get("Date", ""))
        except (TypeError, ValueError, IndexError):
            return  # no Date header (or a proxy's malformed one): keep the last reading
        if moment.tzinfo is not None:
            self.last_server_date = moment.astimezone(UTC)

    @staticmethod
    def _parse(model: Any, response: requests.Response) -> Any:
        try:
            return model.model_validate_json(response.content)
        except ValidationError:
            # A proxy's error page or a truncated body: the server's state is unknown.
            raise Retryable(f"unreadable {model.__name__} (HTTP {response.status_code})") from None

    # --- API -------------------------------------------------------------------------
    def pair(self, code: str, kiosk_name: str, app_version: str) -> PairResponse:
        """Exchange a one-time pairing code for this kiosk's id and token."""
        body = PairRequest(code=code.strip(), kiosk_name=kiosk_name, app_version=app_version)
        response = self._request("POST", PAIR_PATH, json_body=body.model_dump(), auth=False)
        result: PairResponse = self._parse(PairResponse, response)
        self.token = result.token
        return result

    def send_batch(self, records: Sequence[WireRecord | dict[str, Any]]) -> list[RecordResult]:
        """Send records in one request and return one result per record, in order.

        Records are `WireRecord`s or dicts already in their JSON shape (the worker's outbox
        rows, validated when they were queued), so a batch is serialized exactly once.
        """
        if not 1 <= len(records) <= MAX_BATCH_RECORDS:
            raise ValueError(f"a batch has 1 to {MAX_BATCH_RECORDS} records")
        wire = [r.model_dump(mode="json") if isinstance(r, WireRecord) else r for r in records]
        response = self._request("POST", INGEST_PATH, json_body={"records": wire})
        parsed: IngestResponse = self._parse(IngestResponse, response)
        try:
            sent_ids = [UUID(str(r["id"])) for r in wire]
        except (KeyError, ValueError):
            sent_ids = []
        if [r.id for r in parsed.results] != sent_ids:
            # Never guess which answer belongs to which record: treat as not answered.
            raise Retryable("ingest results do not match the records sent")
        return parsed.results

    def pull(self, etag: str | None = None) -> PullResult | None:
        """Fetch what the kiosk needs; None when unchanged since `etag` (304)."""
        headers = {"If-None-Match": etag} if etag else None
        # Asks for the wait ranges; a server of an earlier version ignores the parameter.
        response = self._request(
            "GET", f"{PULL_PATH}?{PULL_WAIT_RANGES_PARAM}=true", headers=headers
        )
        if response.status_code == 304:
            return None
        pull: KioskPull = self._parse(KioskPull, response)
        return PullResult(pull=pull, etag=response.headers.get("ETag"))

    def heartbeat(self, beat: Heartbeat) -> HeartbeatResponse:
        """Report version and backlog; return the server's answer."""
        response = self._request("POST", HEARTBEAT_PATH, json_body=beat.model_dump(mode="json"))
        result: HeartbeatResponse = self._parse(HeartbeatResponse, response)
        return result
