"""The patient follow-up page: token states, language, rate limit, survey input (in-process)."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from clinic.app import create_app
from clinic.config import Settings
from clinic.db import Database, migrate
from clinic.followup.models import FollowUpResponse
from clinic.kiosks import create_pairing_code
from clinic.models import FollowUpToken
from clinic.security import hash_token
from sync import protocol
from sync.protocol import RecordKind

# The package re-exports `router` (the APIRouter), which hides the module of the same name.
followup_router = importlib.import_module("clinic.followup.router")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    migrate(url)
    settings = Settings(database_url=url, environment="test", follow_up_requests_per_minute=30)
    db = Database(settings)
    with db.writer.begin() as session:
        code, _ = create_pairing_code(session=session, settings=settings)
    db.dispose()
    app = create_app(settings)
    with TestClient(app, follow_redirects=False) as c:
        paired = c.post(
            protocol.PAIR_PATH, json={"code": code, "kiosk_name": "k", "app_version": "1"}
        )
        assert paired.status_code == 201
        c.headers["X-Test-Kiosk"] = paired.json()["token"]
        yield c


def _ingest(client: TestClient, kind: RecordKind, body: protocol._Strict) -> str:
    rid = str(uuid.uuid4())
    response = client.post(
        protocol.INGEST_PATH,
        json={
            "records": [
                {
                    "id": rid,
                    "kind": kind.value,
                    "created_at": datetime.now(UTC).isoformat(),
                    "body": protocol.dump_body(body),
                }
            ]
        },
        headers={"Authorization": f"Bearer {client.headers['X-Test-Kiosk']}"},
    )
    assert response.status_code == 200
    assert response.json()["results"][0]["outcome"] == "stored", response.json()
    return rid


def _rating(client: TestClient, *, language: str = "en", days_ago: float = 0) -> str:
    token = protocol.new_follow_up_token()
    _ingest(
        client,
        RecordKind.RATING,
        protocol.RatingBody(
            face=2,
            rated_at=datetime.now(UTC) - timedelta(days=days_ago),
            follow_up_token=token,
            language=language,
        ),
    )
    return token


def test_language_comes_from_the_kiosk_record(client: TestClient) -> None:
    token = _rating(client, language="es")
    page = client.get(f"/f/{token}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert '<html lang="es" dir="ltr">' in page.text
    assert "Gracias por su opinión" in page.text
    assert page.headers["cache-control"] == "no-store"


def test_not_found_and_expired_pages_speak_the_browser_language(client: TestClient) -> None:
    page = client.get("/f/short", headers={"Accept-Language": "es-MX,es;q=0.9"})
    assert page.status_code == 404
    assert "Página no encontrada" in page.text
    expired = _rating(client, language="es", days_ago=3)
    # A link's lifetime counts from the server's receipt, never from the kiosk's clock: a
    # rating made 3 days ago and received now is still open. Age its token instead.
    assert client.get(f"/f/{expired}").status_code == 200
    with client.app.state.db.writer.begin() as session:  # type: ignore[attr-defined]
        session.execute(
            update(FollowUpToken)
            .where(FollowUpToken.token_hash == hash_token(expired))
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    page = client.get(f"/f/{expired}")
    assert page.status_code == 410
    assert "Este enlace ha caducado" in page.text


def test_unknown_well_formed_token_is_pending_then_not_found(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = protocol.new_follow_up_token()
    page = client.get(f"/f/{token}")
    assert page.status_code == 200
    assert "We are recording your visit" in page.text
    assert 'http-equiv="refresh"' in page.text
    monkeypatch.setattr(followup_router, "PENDING_GRACE_SECONDS", 0)
    assert client.get(f"/f/{token}").status_code == 404
    assert client.get(f"/f/{protocol.new_follow_up_token()}").status_code == 404


def test_rate_limited_per_address(client: TestClient) -> None:
    token = _rating(client)
    statuses = [client.get(f"/f/{token}").status_code for _ in range(40)]
    assert statuses[0] == 200
    assert 429 in statuses
    limited = client.get(f"/f/{token}")
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1


def _survey_rows(client: TestClient) -> list[Any]:
    db: Database = client.app.state.db  # type: ignore[attr-defined]
    with db.reader() as s:
        return list(s.query(FollowUpResponse).all())


def test_survey_and_call_back_are_stored_once_and_validated(client: TestClient) -> None:
    token = _rating(client)
    bad = client.post(f"/f/{token}", data={"form": "survey", "overall": "9"})
    assert bad.status_code == 422
    assert "out of range" in bad.text
    bad_phone = client.post(f"/f/{token}", data={"form": "callback", "phone": "<script>"})
    assert bad_phone.status_code == 422
    assert "<script>" not in bad_phone.text.split("<main>", 1)[1]
    # The kiosk's phone rule (sync.rules.is_phone): five digits are too few for a call back.
    short_phone = client.post(f"/f/{token}", data={"form": "callback", "phone": "555 01"})
    assert short_phone.status_code == 422
    assert "needs 6 to 15 digits" in short_phone.text
    leading_zero = client.post(f"/f/{token}", data={"form": "survey", "would_recommend": "08"})
    assert leading_zero.status_code == 422
    assert _survey_rows(client) == []
    ok = client.post(
        f"/f/{token}",
        data={"form": "survey", "overall": "4", "comment": "Good", "would_recommend": "8"},
    )
    assert ok.status_code == 303
    again = client.post(f"/f/{token}", data={"form": "survey", "overall": "1"})
    assert again.status_code == 303
    rows = _survey_rows(client)
    assert len(rows) == 1
    assert rows[0].answers == {"overall": 4, "would_recommend": 8, "comment": "Good"}
    assert (
        client.post(
            f"/f/{token}", data={"form": "callback", "phone": "+34 600 000 000"}
        ).status_code
        == 303
    )
    assert {r.kind for r in _survey_rows(client)} == {"survey", "callback"}
    page = client.get(f"/f/{token}")
    assert 'id="survey"' not in page.text and 'id="callback"' not in page.text


def test_survey_only_for_ratings(client: TestClient) -> None:
    token = protocol.new_follow_up_token()
    _ingest(
        client,
        RecordKind.QUESTION,
        protocol.QuestionBody(
            text="Is there wifi?", asked_at=datetime.now(UTC), follow_up_token=token, language="en"
        ),
    )
    assert client.post(f"/f/{token}", data={"form": "survey", "overall": "4"}).status_code == 404
