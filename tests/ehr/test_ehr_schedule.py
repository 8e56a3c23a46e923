"""Schedule in: FHIR R4 search with paging (FHIR test server process) and SIU over MLLP.

The SIU messages are built with hl7apy (not the library that reads them) and sent over a
real socket to the listener; the database is a migrated SQLite file.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import hl7
import pytest
from ehr_support import FIXED_NOW, FhirServer, fhir_appointment, fhir_patient
from hl7apy.core import Message
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from clinic.db import make_engine, migrate
from clinic.ehr.config import EhrSettings
from clinic.ehr.fhir import FhirClient
from clinic.ehr.hl7v2 import frame, read_frame
from clinic.ehr.models import EhrAppointmentLink
from clinic.ehr.schedule import SiuListener, pull_fhir_schedule
from clinic.models import Appointment, AppointmentStatus
from sync.protocol import normalize_last_name

TZ = ZoneInfo("Europe/Madrid")


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    migrate(url)
    engine = make_engine(url)
    yield sessionmaker(engine.execution_options(sqlite_begin_immediate=True))
    engine.dispose()


def _appointments(writer: sessionmaker[Session]) -> dict[str, Appointment]:
    with writer() as session:
        return {a.ref: a for a in session.scalars(select(Appointment))}


def test_fhir_pull_follows_paging_and_applies_changes_without_duplicates(
    tmp_path: Path, fhir_schema: Path, writer: sessionmaker[Session]
) -> None:
    start = FIXED_NOW.astimezone(TZ).replace(hour=10, minute=0)
    resources = []
    for i in range(8):
        resources.append(
            fhir_appointment(f"apt-{i}", f"pat-{i}", start + timedelta(minutes=15 * i))
        )
        resources.append(fhir_patient(f"pat-{i}", "García López", "María", date(1980, 1, 1 + i)))
    # Outside the window (in three days): not pulled.
    resources.append(fhir_appointment("apt-later", "pat-0", start + timedelta(days=3)))
    (tmp_path / "fhir").mkdir()
    fhir = FhirServer(tmp_path / "fhir", fhir_schema, FHIR_TEST_PAGE_SIZE="3")
    fhir.seed.write_text(json.dumps(resources))
    fhir.start()
    try:
        client = FhirClient(fhir.url, timeout=5)
        report = pull_fhir_schedule(client=client, writer=writer, tz=TZ, now=FIXED_NOW)
        assert (report.created, report.updated) == (8, 0)
        assert [e["page"] for e in fhir.entries("search")] == [0, 1, 2]
        rows = _appointments(writer)
        assert sorted(rows) == [f"apt-{i}" for i in range(8)]
        assert rows["apt-3"].last_name == "García López"
        assert rows["apt-3"].clinician == "Dr Anna Smith"
        # The kiosk's match key folds it like the patient may type it.
        assert normalize_last_name(rows["apt-3"].last_name) == normalize_last_name("Garcia-Lopez")

        # Pulled again: nothing new. Then the EHR moves one and cancels another.
        again = pull_fhir_schedule(client=client, writer=writer, tz=TZ, now=FIXED_NOW)
        assert (again.created, again.updated, again.unchanged) == (0, 0, 8)
        fhir.stop()
        moved = fhir_appointment("apt-1", "pat-1", start + timedelta(hours=3))
        cancelled = fhir_appointment("apt-2", "pat-2", start, status="cancelled")
        # apt-4 is deleted in the EHR outright (not cancelled): gone from the search.
        seed = [r for r in resources if r["id"] not in ("apt-1", "apt-2", "apt-4")]
        seed += [moved, cancelled]
        fhir.seed.write_text(json.dumps(seed))
        fhir.start()
        changed = pull_fhir_schedule(client=client, writer=writer, tz=TZ, now=FIXED_NOW)
        assert (changed.created, changed.updated, changed.cancelled) == (0, 1, 2)
        rows = _appointments(writer)
        assert "apt-2" not in rows and "apt-4" not in rows and len(rows) == 6
        assert rows["apt-1"].starts_at == (start + timedelta(hours=3))
        with writer() as session:
            links = session.scalars(select(EhrAppointmentLink)).all()
            assert {link.patient_id for link in links} >= {"pat-1", "pat-3"}
    finally:
        fhir.stop()


def _siu(
    trigger: str, control: str, appointment_id: str, start: str, family: str = "García López"
) -> str:
    message = Message("SIU_S12", version="2.5")
    message.msh.msh_3.hd_1 = "EHR"
    message.msh.msh_4.hd_1 = "CLINIC"
    message.msh.msh_9.msg_1 = "SIU"
    message.msh.msh_9.msg_2 = trigger
    message.msh.msh_9.msg_3 = "SIU_S12"
    message.msh.msh_10 = control
    message.msh.msh_11.pt_1 = "P"
    message.sch.sch_2.ei_1 = appointment_id
    message.sch.sch_11.tq_4.ts_1 = start
    message.add_group("SIU_S12_PATIENT")
    pid = message.siu_s12_patient.pid
    pid.pid_3.cx_1 = "P-100"
    pid.pid_5.xpn_1.fn_1 = family
    pid.pid_5.xpn_2 = "María"
    pid.pid_7.ts_1 = "19800101"
    return str(message.to_er7())


def _send(port: int, er7: str) -> hl7.Message:
    with socket.create_connection(("127.0.0.1", port), 5) as sock:
        sock.sendall(frame(er7))
        raw = read_frame(sock)
    assert raw is not None
    return hl7.parse(raw.decode())


def test_siu_new_changed_cancelled_no_show_and_refusals(writer: sessionmaker[Session]) -> None:
    listener = SiuListener(EhrSettings(siu_listen_port=0), writer, TZ)
    listener.start()
    try:
        ack = _send(listener.port, _siu("S12", "m1", "S-1", "202603021000"))
        assert (str(ack.extract_field("MSA", 1, 1)), str(ack.extract_field("MSA", 1, 2))) == (
            "AA",
            "m1",
        )
        _send(listener.port, _siu("S12", "m2", "S-2", "202603021015"))
        rows = _appointments(writer)
        assert rows["S-1"].starts_at.astimezone(TZ).hour == 10
        assert rows["S-1"].last_name == "García López"
        # The same S12 again (re-sent): still one appointment.
        assert (
            str(
                _send(listener.port, _siu("S12", "m1", "S-1", "202603021000")).extract_field(
                    "MSA", 1, 1
                )
            )
            == "AA"
        )
        # S14: moved to 11:30.
        _send(listener.port, _siu("S14", "m3", "S-1", "202603021130"))
        # S15: cancelled. S26: no-show.
        _send(listener.port, _siu("S15", "m4", "S-2", "202603021015"))
        _send(listener.port, _siu("S12", "m5", "S-3", "202603021045"))
        _send(listener.port, _siu("S26", "m6", "S-3", "202603021045"))
        rows = _appointments(writer)
        assert sorted(rows) == ["S-1", "S-3"]
        assert rows["S-1"].starts_at.astimezone(TZ).strftime("%H:%M") == "11:30"
        assert rows["S-3"].status == AppointmentStatus.NO_SHOW

        # AE with the reason: no family name. AR: a message type we do not take.
        bad = _send(listener.port, _siu("S12", "m7", "S-4", "202603021045", family=""))
        assert str(bad.extract_field("MSA", 1, 1)) == "AE"
        assert "PID-5" in str(bad.extract_field("MSA", 1, 3))
        other = _send(listener.port, _siu("S99", "m8", "S-5", "202603021045"))
        assert str(other.extract_field("MSA", 1, 1)) == "AR"
        assert "unsupported" in str(other.extract_field("MSA", 1, 3))
        assert "S-4" not in _appointments(writer)
    finally:
        listener.stop()


def test_the_server_process_listens_for_siu_when_configured(clinic_factory) -> None:
    """The clinic server started with a SIU port answers over MLLP and stores the booking."""
    from ehr_support import wait_for
    from serverproc import free_port

    port = free_port()
    clinic = clinic_factory(ehr_siu_listen_port=str(port))
    clinic.start()
    try:

        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return True
            except OSError:
                return False

        wait_for(listening, 20, "the SIU listener")
        ack = _send(port, _siu("S12", "p1", "S-77", "202603021000"))
        assert str(ack.extract_field("MSA", 1, 1)) == "AA"
    finally:
        clinic.stop()
    engine = make_engine(clinic.database_url)
    with Session(engine) as session:
        [appointment] = session.scalars(select(Appointment)).all()
        assert (appointment.ref, appointment.last_name) == ("S-77", "García López")
    engine.dispose()
