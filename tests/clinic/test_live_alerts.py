"""Alerts that find staff: raised at ingest and by the timed checker, e-mailed over SMTP.

Runs on SQLite and PostgreSQL (tests/clinic/conftest.py); e-mails go to a real SMTP server
on loopback (aiosmtpd), in plain text, STARTTLS and implicit TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import bearer, free_port, make_settings, new_kiosk, rating_record, record
from sqlalchemy import select, update

from clinic import alerting, live
from clinic.app import create_app
from clinic.config import Settings
from clinic.models import Alert, AlertEmail, AlertKind, Kiosk
from sync.protocol import HEARTBEAT_PATH, INGEST_PATH, new_follow_up_token

SECRET_TEXT = "I feel chest pain and my name is Ada Synthetic"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.got = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        self.got.set()
        return "250 OK"


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for 127.0.0.1 and its key; return their paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    start = datetime.now(UTC) - timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "smtp.pem", tmp_path / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextlib.contextmanager
def _smtp_server(mode: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Run a real SMTP server on loopback in the given security mode; settings to reach it."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    extra: dict[str, Any] = {}
    settings: dict[str, Any] = {"smtp_security": mode}
    if mode != "none":
        cert, key = _certificate(tmp_path)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        settings["smtp_ca_file"] = str(cert)
        if mode == "starttls":
            extra = {"tls_context": context, "require_starttls": True}
        else:
            extra = {"ssl_context": context}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **extra)
    controller.start()
    settings.update(smtp_host="127.0.0.1", smtp_port=port, alert_email_to=("desk@clinic.example",))
    try:
        yield {"inbox": inbox, "settings": settings}
    finally:
        controller.stop()


@pytest.fixture(params=["none", "starttls", "tls"])
def smtp(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A real SMTP server on loopback: plain, STARTTLS (required) or implicit TLS."""
    with _smtp_server(request.param, tmp_path) as server:
        yield server


@pytest.fixture
def plain_smtp(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with _smtp_server("none", tmp_path) as server:
        yield server


def _app(database_url: str, **overrides: Any) -> FastAPI:
    return create_app(make_settings(database_url, alert_check_seconds=0, **overrides))


def _question(*, emergency: bool, minutes_ago: float = 0) -> dict[str, Any]:
    asked = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return record(
        "question",
        {
            "text": SECRET_TEXT,
            "contact_name": "Ada Synthetic",
            "emergency_flag": emergency,
            "asked_at": asked.isoformat(),
            "follow_up_token": new_follow_up_token(),
            "language": "en",
        },
    )


def _walk_in(minutes_ago: float) -> dict[str, Any]:
    arrived = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return record(
        "walk_in",
        {
            "first_name": "Ada",
            "last_name": "Synthetic",
            "date_of_birth": "1970-01-01",
            "reason": "checkup",
            "arrived_at": arrived.isoformat(),
            "queue_number": "W09",
            "follow_up_token": new_follow_up_token(),
            "language": "en",
        },
    )


def _alerts(app: FastAPI) -> list[Alert]:
    with app.state.db.reader() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)).all())


def test_live_emergency_question_raises_one_alert_at_ingest(database_url: str) -> None:
    app = _app(database_url)
    _kid, token = new_kiosk(app, "Front door")
    question = _question(emergency=True)
    with TestClient(app) as client:
        for _ in range(2):  # the kiosk resends: stored once, alerted once
            response = client.post(INGEST_PATH, json={"records": [question]}, headers=bearer(token))
            assert response.status_code == 200
        client.post(
            INGEST_PATH, json={"records": [_question(emergency=False)]}, headers=bearer(token)
        )
    alerts = _alerts(app)
    assert [a.kind for a in alerts] == [AlertKind.EMERGENCY_QUESTION]
    assert alerts[0].details == {"kiosk": "Front door", "kiosk_id": str(_kid)}
    assert alerts[0].email_state == AlertEmail.OFF  # no SMTP configured
    app.state.db.dispose()


def test_live_unhappy_ratings_alert_at_ingest_without_a_page_view(database_url: str) -> None:
    app = _app(database_url)
    _kid, token = new_kiosk(app)
    with TestClient(app) as client:
        batch = [rating_record(face=f) for f in (1, 2, 5, 4)]
        client.post(INGEST_PATH, json={"records": batch}, headers=bearer(token))
        client.post(INGEST_PATH, json={"records": [rating_record(face=5)]}, headers=bearer(token))
    assert [a.kind for a in _alerts(app)] == [AlertKind.UNHAPPY_RATINGS]
    app.state.db.dispose()


def test_live_timed_rules_raise_once_each(database_url: str) -> None:
    app = _app(
        database_url,
        alert_question_unanswered_minutes=15,
        alert_patient_waiting_minutes=45,
        alert_kiosk_silent_minutes=10,
    )
    _kid, token = new_kiosk(app, "Lobby")
    with TestClient(app) as client:
        client.post(
            INGEST_PATH,
            json={"records": [_question(emergency=False), _walk_in(minutes_ago=5)]},
            headers=bearer(token),
        )
        heartbeat = client.post(
            HEARTBEAT_PATH,
            json={"app_version": "1.0", "backlog": 0, "failed": 0},
            headers=bearer(token),
        )
        assert heartbeat.status_code == 200
    settings: Settings = app.state.settings
    db = app.state.db
    now = datetime.now(UTC)

    def run(at: datetime) -> list[str]:
        with db.writer.begin() as session:
            return [
                str(a.kind) for a in alerting.run_checks(session=session, settings=settings, now=at)
            ]

    assert run(now + timedelta(minutes=5)) == []
    assert sorted(run(now + timedelta(minutes=20))) == ["kiosk_silent", "question_unanswered"]
    assert run(now + timedelta(minutes=25)) == []  # the same situations: nothing new
    assert run(now + timedelta(minutes=45)) == ["patient_waiting"]
    # The kiosk comes back, then falls silent again: a new silence is a new alert.
    with db.writer.begin() as session:
        session.execute(update(Kiosk).values(last_seen_at=now + timedelta(minutes=50)))
    assert run(now + timedelta(minutes=55)) == []
    assert run(now + timedelta(minutes=61)) == ["kiosk_silent"]
    db.dispose()


def test_live_checker_runs_in_one_process_per_period(database_url: str) -> None:
    first, second = _app(database_url), _app(database_url)
    now = datetime.now(UTC)
    every = timedelta(seconds=15)
    assert alerting.claim_run(first.state.db, now=now, every=every)
    assert not alerting.claim_run(second.state.db, now=now + timedelta(seconds=1), every=every)
    assert alerting.claim_run(second.state.db, now=now + timedelta(seconds=16), every=every)
    first.state.db.dispose()
    second.state.db.dispose()


def test_live_email_through_smtp_without_patient_data(
    database_url: str, smtp: dict[str, Any]
) -> None:
    app = _app(database_url, **smtp["settings"])
    _kid, token = new_kiosk(app, "Front door")
    with TestClient(app) as client:
        client.post(
            INGEST_PATH, json={"records": [_question(emergency=True)]}, headers=bearer(token)
        )
    inbox: Inbox = smtp["inbox"]
    assert inbox.got.wait(10), "the emergency e-mail did not arrive"
    message = inbox.messages[0]
    text = message.as_string()
    assert message["Subject"] == "[Clinic alert] Emergency-word question"
    assert "Front door" in text and "/dashboard" in text
    for private in (SECRET_TEXT, "chest", "Ada", "Synthetic"):
        assert private not in text
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while _alerts(app)[0].email_state != AlertEmail.SENT and datetime.now(UTC) < deadline:
        threading.Event().wait(0.05)
    assert _alerts(app)[0].email_state == AlertEmail.SENT
    app.state.db.dispose()


def test_live_email_repeats_are_suppressed_but_not_emergencies(
    database_url: str, plain_smtp: dict[str, Any]
) -> None:
    smtp = plain_smtp
    app = _app(
        database_url,
        alert_email_repeat_minutes=15,
        **smtp["settings"],
    )
    settings: Settings = app.state.settings
    db = app.state.db
    now = datetime.now(UTC)
    with db.writer.begin() as session:
        for key in ("a", "b"):
            alerting.raise_alert(
                session=session,
                settings=settings,
                kind=AlertKind.QUESTION_UNANSWERED,
                dedupe_key=f"unanswered:{key}",
                details={"kiosk": "K", "minutes": 15},
                now=now,
            )
        for key in ("c", "d"):
            alerting.raise_alert(
                session=session,
                settings=settings,
                kind=AlertKind.EMERGENCY_QUESTION,
                dedupe_key=f"question:{key}",
                details={"kiosk": "K"},
                now=now,
            )
    assert alerting.send_pending_emails(db, now=now) == 3
    states = {a.dedupe_key: a.email_state for a in _alerts(app)}
    assert states == {
        "unanswered:a": AlertEmail.SENT,
        "unanswered:b": AlertEmail.SUPPRESSED,
        "question:c": AlertEmail.SENT,
        "question:d": AlertEmail.SENT,
    }
    assert len(smtp["inbox"].messages) == 3
    db.dispose()


def test_live_email_failure_is_retried_then_given_up(database_url: str) -> None:
    app = _app(
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=free_port(),  # nothing listens there
        smtp_security="none",
        alert_email_to=("desk@clinic.example",),
        smtp_timeout_seconds=2,
    )
    db = app.state.db
    now = datetime.now(UTC)
    with db.writer.begin() as session:
        alerting.raise_alert(
            session=session,
            settings=app.state.settings,
            kind=AlertKind.KIOSK_SILENT,
            dedupe_key="silent:x",
            details={"kiosk": "K", "minutes": 10},
            now=now,
        )
    assert alerting.send_pending_emails(db, now=now) == 0
    alert = _alerts(app)[0]
    assert (alert.email_state, alert.email_attempts) == (AlertEmail.PENDING, 1)
    assert alerting.send_pending_emails(db, now=now) == 0  # not due again yet
    assert _alerts(app)[0].email_attempts == 1
    for minute in range(1, 10):
        alerting.send_pending_emails(db, now=now + timedelta(minutes=2 * minute))
    alert = _alerts(app)[0]
    assert (alert.email_state, alert.email_attempts) == (
        AlertEmail.FAILED,
        alerting.EMAIL_MAX_ATTEMPTS,
    )
    db.dispose()


def test_live_events_reach_the_hub_after_commit_only(database_url: str) -> None:
    app = _app(database_url)
    db = app.state.db
    hub = live.Hub()
    via_pg = database_url.startswith("postgresql")

    async def scenario() -> list[live.LiveEvent]:
        hub.bind(asyncio.get_running_loop())
        listener = None
        if via_pg:
            ready = asyncio.Event()
            listener = asyncio.create_task(live.listen_postgres(database_url, hub, ready=ready))
            await asyncio.wait_for(ready.wait(), 10)
        else:
            live._hubs[app.state.settings.database_url] = hub

        def write(commit: bool, n: int) -> None:
            session = db.writer()
            try:
                live.publish("arrival", {"n": n}, session=session)
                session.commit() if commit else session.rollback()
            finally:
                session.close()

        got: list[live.LiveEvent] = []
        async with hub.subscribe() as queue:
            await asyncio.to_thread(write, False, 1)
            await asyncio.to_thread(write, True, 2)
            got.append(await asyncio.wait_for(queue.get(), 5))
            await asyncio.sleep(0.3)
            while not queue.empty():
                got.append(queue.get_nowait())
        if listener is not None:
            listener.cancel()
        return got

    # In a thread of its own: another suite's browser (Playwright's sync API) may already run
    # an event loop in this thread.
    result: list[list[live.LiveEvent]] = []
    try:
        runner = threading.Thread(target=lambda: result.append(asyncio.run(scenario())))
        runner.start()
        runner.join(60)
        assert result, "the live scenario did not finish"
        got = result[0]
    finally:
        live._hubs.pop(app.state.settings.database_url, None)
        db.dispose()
    assert got == [live.LiveEvent("arrival", {"n": 2})]


def test_live_event_payload_is_bounded() -> None:
    with pytest.raises(ValueError, match="payload"):
        live.publish("x", {"a": "b" * 5000}, session=None)  # type: ignore[arg-type]
