"""Migrations match the models on both databases; the demo seed works and stays in demo."""

from __future__ import annotations

import secrets
from datetime import date

import pytest
from alembic import command
from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import bearer, login, make_settings, new_kiosk

from clinic.db import alembic_config
from clinic.demo import DEMO_ADMIN, DemoRefused, seed_demo
from sync.protocol import PULL_PATH, MatchKdf, derive_match_secret


def test_migrations_match_the_models(database_url: str) -> None:
    # Raises when the models have changes no migration carries.
    command.check(alembic_config(database_url))


def test_demo_seed_gives_a_pairable_demo_clinic(app: FastAPI, client: TestClient) -> None:
    with app.state.db.writer.begin() as session:
        done = seed_demo(session=session, settings=app.state.settings)
    with app.state.db.writer.begin() as session:  # idempotent: a second run adds nothing
        again = seed_demo(session=session, settings=app.state.settings)
    assert any("appointments" in line for line in done)
    assert not any(line.startswith("user") for line in again)
    _, token = new_kiosk(app)
    pull = client.get(PULL_PATH, headers=bearer(token)).json()
    assert pull["clinic"]["name"] == "Demo Clinic"
    assert {e["language"] for e in pull["faq"]} == {"en", "es"}
    kdf = MatchKdf.model_validate(pull["match_kdf"])
    okafor = derive_match_secret(kdf, "Okafor", date(1984, 3, 12)).match_key
    assert okafor in {a["match_key"] for a in pull["appointments"]}
    assert sum(a["arrived"] for a in pull["appointments"]) == 1
    assert login(client, DEMO_ADMIN[0], DEMO_ADMIN[1]).status_code == 303


def test_demo_seed_is_refused_in_production(database_url: str) -> None:
    from clinic.db import Database

    settings = make_settings(
        database_url, environment="production", secret_key=secrets.token_urlsafe(48)
    )
    db = Database(settings)
    try:
        with pytest.raises(DemoRefused), db.writer.begin() as session:
            seed_demo(session=session, settings=settings)
    finally:
        db.dispose()
