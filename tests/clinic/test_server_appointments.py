"""Appointment CSV import (admin API and command line), pull with keyed hashes and ETag."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import bearer, csrf_of, login, new_kiosk, new_user, now_iso, record
from sqlalchemy import select

from clinic.models import Appointment, Arrival, ArrivalStatus, ClinicConfig, StaffRole
from sync.protocol import (
    INGEST_PATH,
    PULL_PATH,
    MatchKdf,
    derive_match_secret,
    match_day_salt,
    new_follow_up_token,
)

IMPORT = "/api/admin/appointments/import"


def _today(hour: int, minute: int = 0) -> str:
    return (
        datetime.now(UTC)
        .replace(hour=hour, minute=minute, second=0)
        .strftime("%Y-%m-%dT%H:%M:%S+00:00")
    )


def _csv(*rows: str) -> str:
    return "\n".join(["ref,first_name,last_name,date_of_birth,starts_at,clinician,phone", *rows])


def test_csv_import_keeps_good_rows_and_reports_each_bad_one(
    app: FastAPI, client: TestClient
) -> None:
    login(client, new_user(app, StaffRole.ADMIN))
    body = _csv(
        f"a1,Ana,Núñez,1980-02-03,{_today(9)},Dr. One,+1 555 0101",
        f"a2,,Lee,1980-13-03,{_today(10)},Dr. One,",
        "a3,Bo,Chan,1990-01-01,tomorrow-ish,Dr. Two,",
        f"a1,Cy,Dup,1970-01-01,{_today(11)},Dr. Two,",
        f"a4,Di,Ok,1975-05-05,{_today(12)},Dr. Two,",
        f"a5,Ed,Phone,1975-05-05,{_today(12)},Dr. Two,call me",
    )
    response = client.post(
        IMPORT,
        content=body.encode(),
        headers={"Content-Type": "text/csv", "X-CSRF-Token": csrf_of(client)},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["created"], report["updated"]) == (2, 0)
    errors = {(e["row"], e["column"]) for e in report["errors"]}
    assert errors == {
        (3, "first_name"),
        (3, "date_of_birth"),
        (4, "starts_at"),
        (5, "ref"),
        (7, "phone"),
    }
    with app.state.db.reader() as session:
        refs = session.scalars(select(Appointment.ref).order_by(Appointment.ref)).all()
    assert refs == ["a1", "a4"]
    # Importing the corrected file again updates instead of duplicating.
    again = client.post(
        IMPORT,
        content=_csv(f"a1,Ana,Núñez,1980-02-03,{_today(9, 30)},Dr. One,").encode(),
        headers={"Content-Type": "text/csv", "X-CSRF-Token": csrf_of(client)},
    )
    assert (again.json()["created"], again.json()["updated"]) == (0, 1)


def test_csv_upload_form_and_whole_file_errors(app: FastAPI, client: TestClient) -> None:
    login(client, new_user(app, StaffRole.ADMIN))
    token = csrf_of(client)
    ok = client.post(
        IMPORT,
        data={"csrf_token": token},
        files={"file": ("day.csv", _csv(f"u1,Al,Bee,1990-01-01,{_today(9)},Dr,"))},
    )
    assert ok.status_code == 200 and ok.json()["created"] == 1
    bad_header = client.post(
        IMPORT,
        content=b"ref,name\nx,y",
        headers={"Content-Type": "text/csv", "X-CSRF-Token": token},
    )
    assert bad_header.status_code == 422
    assert "missing columns" in bad_header.json()["detail"]
    latin1 = client.post(
        IMPORT,
        content=_csv("x,Jos\xe9").encode("latin-1"),
        headers={"Content-Type": "text/csv", "X-CSRF-Token": token},
    )
    assert latin1.status_code == 422 and "UTF-8" in latin1.json()["detail"]


def test_staff_cannot_import(app: FastAPI, client: TestClient) -> None:
    login(client, new_user(app, StaffRole.STAFF))
    response = client.post(
        IMPORT, content=b"x", headers={"Content-Type": "text/csv", "X-CSRF-Token": csrf_of(client)}
    )
    assert response.status_code == 403


def test_cli_import_and_pairing_code(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "day.csv"
    path.write_text(_csv(f"c1,Al,Bee,1990-01-01,{_today(9)},Dr,", "c2,,,,,,"))
    env = {**os.environ, "CLINIC_DATABASE_URL": database_url, "CLINIC_ENVIRONMENT": "test"}
    result = subprocess.run(
        [sys.executable, "-m", "clinic.cli", "import-appointments", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1  # some rows rejected
    assert "created 1, updated 0, rejected rows 1" in result.stdout
    assert "row 3, first_name: first_name is required" in result.stderr
    code = subprocess.run(
        [sys.executable, "-m", "clinic.cli", "create-pairing-code", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert code.returncode == 0 and len(code.stdout.strip()) == 11


def test_pull_has_todays_appointments_as_keyed_hashes_and_honours_etag(
    app: FastAPI, client: TestClient
) -> None:
    now = datetime.now(UTC)
    with app.state.db.writer.begin() as session:
        for ref, offset, phone in (
            ("today", timedelta(minutes=1), "+1 555 010 4321"),
            ("twin", timedelta(minutes=2), "+1 555 010 9876"),
            ("later", timedelta(days=2), "+1 555 010 4321"),
        ):
            session.add(
                Appointment(
                    ref=ref,
                    first_name="Zoë",
                    last_name="Ó Briain",
                    date_of_birth=date(1985, 4, 5),
                    phone=phone,
                    starts_at=now + offset,
                    clinician="Dr. Who",
                )
            )
        session.add(
            Appointment(
                ref="alone",
                first_name="Ada",
                last_name="Quinn",
                date_of_birth=date(1970, 1, 2),
                phone="+1 555 010 1111",
                starts_at=now + timedelta(minutes=3),
                clinician="Dr. Who",
            )
        )
        pepper = bytes.fromhex(session.get(ClinicConfig, 1).hash_key)
    _, token = new_kiosk(app)
    first = client.get(PULL_PATH, headers=bearer(token))
    assert first.status_code == 200
    pull = first.json()
    assert [a["ref"] for a in pull["appointments"]] == ["today", "twin", "alone"]
    kdf = MatchKdf.model_validate(pull["match_kdf"])
    # Today's salt comes from the clinic's secret, which never leaves the server.
    assert kdf.salt == match_day_salt(pepper, kdf.day) and pepper.hex() not in first.text
    appointment, twin, alone = pull["appointments"]
    secret = derive_match_secret(kdf, "o briain", date(1985, 4, 5))
    assert appointment["match_key"] == twin["match_key"] == secret.match_key
    # Phone keys only where two appointments share a match key.
    assert appointment["phone_key"] == secret.phone_key("4321")
    assert twin["phone_key"] == secret.phone_key("9876")
    assert alone["phone_key"] is None
    assert alone["match_key"] == derive_match_secret(kdf, "Quinn", date(1970, 1, 2)).match_key
    assert appointment["first_initial"] == "Z" and appointment["arrived"] is False
    assert "Briain" not in first.text  # no names leave the server
    etag = first.headers["ETag"]
    unchanged = client.get(PULL_PATH, headers={**bearer(token), "If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    # A check-in changes the pull (arrived + queue), so the ETag changes.
    client.post(
        INGEST_PATH,
        headers=bearer(token),
        json={
            "records": [
                record(
                    "check_in",
                    {
                        "appointment_ref": "today",
                        "checked_in_at": now_iso(),
                        "queue_number": "A001",
                        "follow_up_token": new_follow_up_token(),
                        "language": "en",
                    },
                )
            ]
        },
    )
    changed = client.get(PULL_PATH, headers={**bearer(token), "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.json()["appointments"][0]["arrived"] is True
    assert changed.json()["queue"]["waiting"] == 1


def test_wait_estimate_follows_how_fast_patients_are_called(
    app: FastAPI, client: TestClient
) -> None:
    from clinic.queue import (
        current_pace,
        estimate_minutes,
        estimated_wait_for,
        position_of,
        queue_state,
    )

    now = datetime.now(UTC)
    settings = app.state.settings
    with app.state.db.writer.begin() as session:
        empty = queue_state(session=session, settings=settings, now=now)
        assert (empty.waiting, empty.estimated_wait_minutes) == (0, 0)
        # Called in every 6 minutes: the last call was 2 minutes ago.
        for i, minutes_ago in enumerate((20, 14, 8, 2)):
            session.add(
                Arrival(
                    id=__import__("uuid").uuid4(),
                    queue_number=f"C{i}",
                    status=ArrivalStatus.CALLED_IN,
                    arrived_at=now - timedelta(minutes=40),
                    called_at=now - timedelta(minutes=minutes_ago),
                )
            )
        for i in range(3):
            session.add(
                Arrival(
                    id=__import__("uuid").uuid4(),
                    queue_number=f"W{i}",
                    status=ArrivalStatus.WAITING,
                    arrived_at=now - timedelta(minutes=10 - i),
                )
            )
        session.flush()
        pace = current_pace(session=session, settings=settings, now=now)
        assert pace.minutes_per_patient == 6
        assert estimate_minutes(pace, 1, now) == 4  # next call due 6 - 2 minutes from now
        state = queue_state(session=session, settings=settings, now=now)
        assert (state.waiting, state.estimated_wait_minutes) == (3, 4 + 3 * 6)
        # The follow-up page's view: the last of the three waiting is third in line.
        last = session.scalars(select(Arrival).where(Arrival.queue_number == "W2")).one()
        assert position_of(session=session, settings=settings, arrival=last, now=now) == 3
        assert (
            estimated_wait_for(session=session, settings=settings, arrival=last, now=now)
            == 4 + 2 * 6
        )


def test_pull_etag_holds_while_the_wait_counts_down_and_changes_with_the_queue(
    app: FastAPI, client: TestClient
) -> None:
    import uuid

    from clinic.kiosks import build_pull

    settings = app.state.settings
    now = datetime.now(UTC)
    with app.state.db.writer.begin() as session:
        # One patient called in 2 minutes ago, one waiting: the exact estimate for a new
        # arrival counts down (18, 17, 16 ... minutes at 10 minutes per patient).
        session.add(
            Arrival(
                id=uuid.uuid4(),
                queue_number="C1",
                status=ArrivalStatus.CALLED_IN,
                arrived_at=now - timedelta(minutes=30),
                called_at=now - timedelta(minutes=2),
            )
        )
        session.add(
            Arrival(
                id=uuid.uuid4(),
                queue_number="W1",
                status=ArrivalStatus.WAITING,
                arrived_at=now - timedelta(minutes=5),
            )
        )
    with app.state.db.reader() as session:
        pulls = [
            build_pull(session=session, settings=settings, now=now + timedelta(seconds=s))
            for s in (0, 30, 60, 90, 120)
        ]
        later, later_etag = build_pull(
            session=session, settings=settings, now=now + timedelta(minutes=4)
        )
    assert {p.queue.estimated_wait_minutes for p, _ in pulls} == {20}
    assert len({etag for _, etag in pulls}) == 1
    assert later.queue.estimated_wait_minutes == 15 and later_etag != pulls[0][1]
    # Over HTTP: the second pull with the first's ETag is a 304.
    _, token = new_kiosk(app)
    first = client.get(PULL_PATH, headers=bearer(token))
    assert first.json()["queue"]["estimated_wait_minutes"] % 5 == 0
    again = client.get(PULL_PATH, headers={**bearer(token), "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
