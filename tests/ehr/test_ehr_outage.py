"""The EHR down for the length of 1,000 arrivals, then up: each delivered once, in order.

Real processes: the clinic server, the FHIR test server and the MLLP peer, started only
after the arrivals (and some staff status changes) were stored. Staff changes are made with
the dashboard's own function on the server's database, as its route does.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

from ehr_support import (
    FIXED_NOW,
    FhirServer,
    MllpPeer,
    add_appointments,
    check_in_record,
    fhir_appointment,
    fhir_patient,
    pair,
    post_records,
    wait_for,
)
from serverproc import free_port
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from clinic.dashboard.queries import set_arrival_status
from clinic.db import make_engine
from clinic.ehr.models import EhrOutbox
from clinic.ehr.queue import TARGETS_INFO_KEY
from clinic.models import Arrival, ArrivalStatus

ARRIVALS = 1000
WITH_STATUS_CHANGES = 100  # these patients are also called in, then seen


def test_ehr_down_for_1000_arrivals_then_up_each_once_in_order(
    tmp_path: Path, fhir_schema: Path, clinic_factory
) -> None:
    refs = [f"apt-{i:04d}" for i in range(ARRIVALS)]
    start = FIXED_NOW + timedelta(hours=2)
    (tmp_path / "fhir").mkdir()
    fhir = FhirServer(tmp_path / "fhir", fhir_schema)
    fhir.seed.write_text(
        json.dumps(
            [fhir_appointment(ref, f"pat-{ref}", start) for ref in refs]
            + [fhir_patient(f"pat-{ref}", "Rossi", "Luca", date(1990, 1, 1)) for ref in refs]
        )
    )
    peer = MllpPeer(tmp_path)
    peer.port = free_port()  # reserved now, nobody listens until the EHR comes back
    clinic = clinic_factory(
        ehr_fhir_base_url=f"http://127.0.0.1:{fhir.port}",
        ehr_hl7_host="127.0.0.1",
        ehr_hl7_port=str(peer.port),
        ehr_retry_cap_seconds="0.5",
    )
    add_appointments(
        clinic,
        [
            {"ref": ref, "first_name": "Luca", "last_name": "Rossi",
             "date_of_birth": date(1990, 1, 1), "starts_at": start, "clinician": "Dr Smith"}
            for ref in refs
        ],
    )  # fmt: skip
    clinic.start()
    try:
        token = pair(clinic)
        post_records(
            clinic,
            token,
            [check_in_record(ref, FIXED_NOW + timedelta(seconds=i)) for i, ref in enumerate(refs)],
        )
        engine = make_engine(clinic.database_url)
        writer = sessionmaker(
            engine.execution_options(sqlite_begin_immediate=True),
            info={TARGETS_INFO_KEY: ("fhir", "hl7")},
        )
        with writer.begin() as session:
            arrival_ids = list(
                session.scalars(
                    select(Arrival.id)
                    .where(Arrival.appointment_ref.in_(refs[:WITH_STATUS_CHANGES]))
                    .order_by(Arrival.appointment_ref)
                )
            )
        for status in (ArrivalStatus.CALLED_IN, ArrivalStatus.SEEN):
            for arrival_id in arrival_ids:
                with writer.begin() as session:
                    set_arrival_status(arrival_id, status, session=session, now=FIXED_NOW)
        expected = ARRIVALS * 2 + WITH_STATUS_CHANGES * 3  # seen: FHIR and HL7; called in: FHIR
        with writer() as session:
            assert session.scalar(select(func.count()).select_from(EhrOutbox)) == expected
            assert session.scalar(select(func.count()).where(EhrOutbox.status == "sent")) == 0

        fhir.start()
        peer.start()

        def drained() -> bool:
            with writer() as session:
                return not session.scalar(select(func.count()).where(EhrOutbox.status == "pending"))

        wait_for(drained, 600, "the backlog to drain")
        with writer() as session:
            statuses = Counter(session.scalars(select(EhrOutbox.status)))
        engine.dispose()
    finally:
        clinic.stop()
        fhir.stop()
        peer.stop()

    assert statuses == {"sent": expected}
    # FHIR: every appointment written once per status, in the order things happened.
    per_appointment: dict[str, list[str]] = defaultdict(list)
    for write in fhir.entries("write"):
        per_appointment[write["key"]].append(write["to"])
    assert len(per_appointment) == ARRIVALS
    for i, ref in enumerate(refs):
        wanted = ["arrived", "checked-in", "fulfilled"] if i < WITH_STATUS_CHANGES else ["arrived"]
        assert per_appointment[f"Appointment/{ref}"] == wanted, ref
    assert fhir.entries("refused") == [] and fhir.entries("invalid") == []
    # HL7: every message once (no duplicate control id), A10 before A03 for each patient.
    messages = peer.entries()
    assert peer.entries("duplicate") == []
    assert (
        len({m["control_id"] for m in messages}) == len(messages) == ARRIVALS + WITH_STATUS_CHANGES
    )
    per_visit: dict[str, list[str]] = defaultdict(list)
    for message in messages:
        assert message["ack"] == "AA"
        per_visit[message["visit"]].append(message["event"])
    for i, ref in enumerate(refs):
        wanted = ["ADT^A10", "ADT^A03"] if i < WITH_STATUS_CHANGES else ["ADT^A10"]
        assert per_visit[ref] == wanted, ref
