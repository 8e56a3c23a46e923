"""A check-in on a real kiosk (kiosk.services + its sync worker, as the app runs them) reaches
the EHR: FHIR `arrived` and HL7 ADT^A10. The kiosk pulls its appointments from the real
clinic server process, and the patient types the surname the way people do."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from ehr_support import (
    FhirServer,
    MllpPeer,
    add_appointments,
    fhir_appointment,
    fhir_patient,
    wait_for,
)

from kiosk import syncing
from kiosk.config import KioskSettings
from kiosk.facade import MatchStatus
from kiosk.services import Kiosk


def _away_from_midnight() -> datetime:
    """Return now, first waiting out the last two minutes of a UTC day (kiosk and server
    each decide "today" by their own clock; neither may cross midnight mid-test)."""
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    if midnight - now < timedelta(minutes=2):
        time.sleep((midnight - now).total_seconds() + 1)
    return datetime.now(UTC).replace(microsecond=0)


def test_check_in_on_a_real_kiosk_reaches_the_ehr(
    tmp_path: Path, fhir_schema: Path, clinic_factory
) -> None:
    start = _away_from_midnight() + timedelta(minutes=5)
    birth = date(1979, 11, 23)
    (tmp_path / "fhir").mkdir()
    fhir = FhirServer(tmp_path / "fhir", fhir_schema)
    fhir.seed.write_text(
        json.dumps(
            [
                fhir_appointment("apt-k", "pat-k", start),
                fhir_patient("pat-k", "García López", "María", birth),
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
        [{"ref": "apt-k", "first_name": "María", "last_name": "García López",
          "date_of_birth": birth, "starts_at": start, "clinician": "Dr Smith"}],
    )  # fmt: skip
    clinic.start()
    kiosk = Kiosk.open(
        KioskSettings(
            data_dir=tmp_path / "kiosk",
            server_url=clinic.url,
            admin_pin_hash=PasswordHasher(time_cost=1, memory_cost=1024).hash("837261"),
        ),
        seed_demo=False,
    )
    try:
        done = threading.Event()
        answers: list[str | None] = []

        def on_done(message: str | None) -> None:
            answers.append(message)
            done.set()

        syncing.request_pairing(kiosk, clinic.url, clinic.pairing_code(), on_done)
        assert done.wait(20) and answers == [None], answers
        syncing.start_sync(
            kiosk,
            settings=syncing.worker_settings(
                kiosk, pull_interval=1.0, poll_interval=0.05, heartbeat_interval=5.0
            ),
            purge_interval=None,
        )

        def matched() -> bool:
            # Typed without accents, with a hyphen, in capitals: still the same patient.
            found = kiosk.find_appointment("GARCIA-LOPEZ", birth)
            return found.status is MatchStatus.MATCHED

        wait_for(matched, 30, "the kiosk to pull and match the appointment")
        match = kiosk.find_appointment("GARCIA-LOPEZ", birth)
        kiosk.check_in(match.appointment_ref, "es")
        wait_for(lambda: len(fhir.entries("write")) == 1, 30, "FHIR arrived")
        wait_for(lambda: len(peer.entries()) == 1, 30, "HL7 A10")
    finally:
        syncing.stop_sync(kiosk)
        kiosk.close()
        clinic.stop()
        fhir.stop()
        peer.stop()
    [write] = fhir.entries("write")
    assert (write["key"], write["from"], write["to"]) == ("Appointment/apt-k", "booked", "arrived")
    [message] = peer.entries()
    assert (message["event"], message["visit"], message["family"]) == (
        "ADT^A10",
        "apt-k",
        "García López",
    )
