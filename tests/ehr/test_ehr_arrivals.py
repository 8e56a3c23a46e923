"""Arrivals out: a kiosk check-in reaches the EHR as FHIR `arrived` and HL7 ADT^A10.

Real processes on loopback: the clinic server (uvicorn, SQLite), the FHIR R4 test server
(validates with fhir.resources and the official JSON schema, enforces status transitions)
and the MLLP peer (python-hl7). The kiosk's part is its ingest call: the same HTTP request
its sync worker makes.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import jsonschema
from ehr_support import (
    FIXED_NOW,
    FhirServer,
    MllpPeer,
    add_appointments,
    check_in_record,
    fhir_appointment,
    fhir_patient,
    free_port,
    pair,
    post_records,
    staff_session,
    wait_for,
)
from fhir.resources.R4B.appointment import Appointment as R4Appointment
from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.db import make_engine
from clinic.ehr.models import EhrLinkState, EhrOutbox


def _appointment_row(ref: str, last: str, start: datetime) -> dict[str, object]:
    return {
        "ref": ref,
        "first_name": "Maria",
        "last_name": last,
        "date_of_birth": date(1980, 5, 17),
        "starts_at": start,
        "clinician": "Dr Smith",
    }


def _outbox(database_url: str) -> list[EhrOutbox]:
    engine = make_engine(database_url)
    with Session(engine) as session:
        rows = list(session.scalars(select(EhrOutbox).order_by(EhrOutbox.id)))
    engine.dispose()
    return rows


def test_check_in_reaches_fhir_as_arrived_and_hl7_as_a10(
    tmp_path: Path, fhir_schema: Path, clinic_factory
) -> None:
    start = FIXED_NOW + timedelta(hours=1)
    (tmp_path / "fhir").mkdir()
    fhir = FhirServer(tmp_path / "fhir", fhir_schema)
    fhir.seed.write_text(
        json.dumps(
            [
                fhir_appointment("apt-1", "pat-1", start),
                fhir_appointment("apt-2", "pat-2", start, status="fulfilled"),
                fhir_patient("pat-1", "García López", "María", date(1980, 5, 17)),
                fhir_patient("pat-2", "Okafor", "Ada", date(1975, 1, 2)),
            ]
        )
    )
    fhir.start()
    peer = MllpPeer(tmp_path).start()
    clinic = clinic_factory(
        ehr_fhir_base_url=fhir.url, ehr_hl7_host="127.0.0.1", ehr_hl7_port=str(peer.port)
    )
    add_appointments(
        clinic,
        [
            _appointment_row("apt-1", "García López", start),
            _appointment_row("apt-2", "Okafor", start),
            _appointment_row("apt-404", "Nadie", start),
            _appointment_row("UNKNOWN-7", "Nobody", start),
        ],
    )
    clinic.start()
    try:
        token = pair(clinic)
        post_records(
            clinic,
            token,
            [
                check_in_record(ref, FIXED_NOW + timedelta(minutes=i), f"A{i}")
                for i, ref in enumerate(["apt-1", "apt-2", "apt-404", "UNKNOWN-7"])
            ],
        )
        wait_for(
            lambda: (
                all(m.status != "pending" for m in _outbox(clinic.database_url))
                and len(_outbox(clinic.database_url)) == 8
            ),
            30,
            "every message delivered or refused",
        )
    finally:
        clinic.stop()
        fhir.stop()
        peer.stop()

    writes = fhir.entries("write")
    # apt-1: booked -> arrived, exactly once; apt-2 was already fulfilled: left alone.
    assert [(w["key"], w["from"], w["to"]) for w in writes] == [
        ("Appointment/apt-1", "booked", "arrived")
    ]
    assert fhir.entries("invalid") == []
    # What we sent validates with both validators here too.
    schema = json.loads(fhir_schema.read_text())
    for write in writes:
        R4Appointment.model_validate(write["resource"])
        jsonschema.Draft6Validator(schema).validate(write["resource"])

    by_ref = {(m.target, m.payload.get("appointment_id")): m for m in _outbox(clinic.database_url)}
    statuses = sorted((m.target, m.status) for m in by_ref.values())
    assert statuses == sorted(
        [("fhir", "sent"), ("fhir", "sent"), ("fhir", "refused"), ("fhir", "refused"),
         ("hl7", "sent"), ("hl7", "sent"), ("hl7", "sent"), ("hl7", "refused")]
    )  # fmt: skip
    refused = {m.target: m.last_error for m in by_ref.values() if m.status == "refused"}
    assert "not in the EHR" in refused["fhir"] and "404" in refused["fhir"]
    assert refused["hl7"] == "HL7 AR: unknown patient"
    left_alone = [m.outcome for m in by_ref.values() if m.outcome and "left alone" in m.outcome]
    assert left_alone == ["EHR already fulfilled: left alone"]

    messages = peer.entries()
    assert sorted(m["event"] for m in messages) == ["ADT^A10"] * 4
    first = next(m for m in messages if m["visit"] == "apt-1")
    assert (first["family"], first["given"], first["birth_date"]) == (
        "García López",
        "Maria",
        "19800517",
    )
    assert first["structure"] == "ADT_A09"
    assert peer.entries("duplicate") == []


def test_link_panel_shows_last_success_backlog_and_last_error(
    tmp_path: Path, clinic_factory
) -> None:
    """With the HL7 peer down, the kiosks page shows the backlog and the last error."""
    dead_port = free_port()
    clinic = clinic_factory(ehr_hl7_host="127.0.0.1", ehr_hl7_port=str(dead_port))
    add_appointments(clinic, [_appointment_row("apt-9", "Ito", FIXED_NOW)])
    clinic.start()
    try:
        token = pair(clinic)
        post_records(clinic, token, [check_in_record("apt-9", FIXED_NOW)])

        def error_recorded() -> bool:
            engine = make_engine(clinic.database_url)
            with Session(engine) as session:
                state = session.get(EhrLinkState, "hl7")
                found = state is not None and state.last_error is not None
            engine.dispose()
            return found

        wait_for(error_recorded, 20, "the link error to be recorded")
        page = staff_session(clinic).get(clinic.url + "/dashboard/kiosks", timeout=10)
        assert page.status_code == 200
        html = page.text
        assert 'id="ehr-link"' in html
        assert "HL7 v2" in html and "ConnectionRefusedError" in html
        assert 'data-backlog="1"' in html
    finally:
        clinic.stop()


def test_staff_status_changes_and_a_walk_in_follow_to_the_ehr(
    tmp_path: Path, fhir_schema: Path, clinic_factory
) -> None:
    """Called in / seen on the dashboard reach FHIR and HL7; a walk-in is an A04 and an
    arrived FHIR Encounter (its Patient contained) that follows the dashboard too."""
    import re

    from sync.protocol import new_follow_up_token

    start = FIXED_NOW + timedelta(hours=1)
    (tmp_path / "fhir").mkdir()
    fhir = FhirServer(tmp_path / "fhir", fhir_schema)
    fhir.seed.write_text(
        json.dumps(
            [
                fhir_appointment("apt-s", "pat-s", start),
                fhir_patient("pat-s", "Nakamura", "Yui", date(1988, 8, 8)),
            ]
        )
    )
    fhir.start()
    peer = MllpPeer(tmp_path).start()
    clinic = clinic_factory(
        ehr_fhir_base_url=fhir.url, ehr_hl7_host="127.0.0.1", ehr_hl7_port=str(peer.port)
    )
    add_appointments(clinic, [_appointment_row("apt-s", "Nakamura", start)])
    clinic.start()
    try:
        token = pair(clinic)
        check_in = check_in_record("apt-s", FIXED_NOW, "A7")
        walk_in = {
            "id": str(uuid.uuid4()),
            "kind": "walk_in",
            "created_at": FIXED_NOW.isoformat(),
            "body": {
                "first_name": "Pedro",
                "last_name": "Núñez-Ruiz",
                "date_of_birth": "1970-02-03",
                "reason": "cough",
                "arrived_at": FIXED_NOW.isoformat(),
                "queue_number": "W1",
                "follow_up_token": new_follow_up_token(),
                "language": "es",
            },
        }
        post_records(clinic, token, [check_in, walk_in])
        browser = staff_session(clinic)
        page = browser.get(clinic.url + "/dashboard/arrivals", timeout=10).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf is not None
        for arrival_id in (check_in["id"], walk_in["id"]):
            for new_status in ("called_in", "seen"):
                answer = browser.post(
                    f"{clinic.url}/dashboard/arrivals/{arrival_id}/status",
                    data={"status": new_status, "csrf_token": csrf.group(1)},
                    allow_redirects=False,
                    timeout=10,
                )
                assert answer.status_code == 303, answer.text[:300]
        # FHIR: 3 Appointment writes, 3 Encounter puts; HL7: A10, A03, A04, A03.
        wait_for(
            lambda: len([m for m in _outbox(clinic.database_url) if m.status == "sent"]) == 10,
            30,
            "ten messages sent",
        )
        assert not [m for m in _outbox(clinic.database_url) if m.status != "sent"]
    finally:
        clinic.stop()
        fhir.stop()
        peer.stop()

    writes = [(w["from"], w["to"]) for w in fhir.entries("write")]
    assert writes == [("booked", "arrived"), ("arrived", "checked-in"), ("checked-in", "fulfilled")]
    # The FHIR server validated each Encounter with both validators before storing it.
    assert fhir.entries("invalid") == []
    encounters = [e for e in fhir.entries("put") if e["key"].startswith("Encounter/")]
    assert [e["key"] for e in encounters] == [f"Encounter/{walk_in['id']}"] * 3
    assert [e["created"] for e in encounters] == [True, False, False]
    assert [e["resource"]["status"] for e in encounters] == ["arrived", "in-progress", "finished"]
    first = encounters[0]["resource"]
    assert first["class"]["code"] == "AMB"
    assert first["subject"] == {"reference": "#patient"}
    assert first["contained"][0]["name"] == [{"family": "Núñez-Ruiz", "given": ["Pedro"]}]
    assert first["contained"][0]["birthDate"] == "1970-02-03"
    assert "end" in encounters[2]["resource"]["period"]
    assert "cough" not in json.dumps(encounters)  # the reason for the visit stays with us
    events = [(m["event"], m["visit"], m["family"]) for m in peer.entries()]
    assert sorted(events) == sorted(
        [
            ("ADT^A10", "apt-s", "Nakamura"),
            ("ADT^A03", "apt-s", "Nakamura"),
            ("ADT^A04", walk_in["id"], "Núñez-Ruiz"),
            ("ADT^A03", walk_in["id"], "Núñez-Ruiz"),
        ]
    )
    a10 = events.index(("ADT^A10", "apt-s", "Nakamura"))
    assert a10 < events.index(("ADT^A03", "apt-s", "Nakamura"))
