"""SMART Backend Services: the server signs a client assertion (RS384 or ES384), the FHIR
test server checks it with the public key and then requires the access token it issued."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from ehr_support import (
    FIXED_NOW,
    FhirServer,
    add_appointments,
    check_in_record,
    fhir_appointment,
    fhir_patient,
    pair,
    post_records,
    wait_for,
)


def _keys(tmp_path: Path, algorithm: str) -> tuple[Path, Path]:
    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if algorithm == "RS384"
        else ec.generate_private_key(ec.SECP384R1())
    )
    private = tmp_path / "ehr-key.pem"
    public = tmp_path / "ehr-key.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


@pytest.mark.parametrize("algorithm", ["RS384", "ES384"])
def test_arrivals_reach_a_smart_protected_fhir_server_with_one_cached_token(
    tmp_path: Path, fhir_schema: Path, clinic_factory, algorithm: str
) -> None:
    private, public = _keys(tmp_path, algorithm)
    start = FIXED_NOW + timedelta(hours=1)
    refs = ["apt-a", "apt-b", "apt-c"]
    (tmp_path / "fhir").mkdir()
    fhir = FhirServer(tmp_path / "fhir", fhir_schema, FHIR_TEST_PUBLIC_KEY=str(public))
    fhir.seed.write_text(
        json.dumps(
            [fhir_appointment(r, f"p-{r}", start) for r in refs]
            + [fhir_patient(f"p-{r}", "Haddad", "Omar", date(1985, 4, 4)) for r in refs]
        )
    )
    fhir.start()
    clinic = clinic_factory(
        ehr_fhir_base_url=fhir.url,
        ehr_smart_token_url=fhir.url + "/token",
        ehr_smart_client_id="waiting-room-kiosk",
        ehr_smart_private_key_file=str(private),
        ehr_smart_algorithm=algorithm,
    )
    add_appointments(
        clinic,
        [
            {"ref": r, "first_name": "Omar", "last_name": "Haddad",
             "date_of_birth": date(1985, 4, 4), "starts_at": start, "clinician": "Dr Smith"}
            for r in refs
        ],
    )  # fmt: skip
    clinic.start()
    try:
        token = pair(clinic)
        for i, ref in enumerate(refs):
            post_records(clinic, token, [check_in_record(ref, FIXED_NOW + timedelta(minutes=i))])
        wait_for(lambda: len(fhir.entries("write")) == 3, 30, "three arrivals written")
    finally:
        clinic.stop()
        fhir.stop()
    assert fhir.entries("token_refused") == []
    tokens = fhir.entries("token")
    assert len(tokens) == 1  # cached for the next requests
    assert tokens[0]["sub"] == "waiting-room-kiosk"
    assert "system/Appointment" in tokens[0]["scope"]


def test_a_wrong_key_gets_no_token_and_the_arrival_waits(
    tmp_path: Path, fhir_schema: Path, clinic_factory
) -> None:
    """An assertion signed with another key is refused; the message stays queued."""
    _private, public = _keys(tmp_path, "RS384")
    other = tmp_path / "other"
    other.mkdir()
    wrong_private, _ = _keys(other, "RS384")
    (tmp_path / "fhir").mkdir()
    fhir = FhirServer(tmp_path / "fhir", fhir_schema, FHIR_TEST_PUBLIC_KEY=str(public))
    start = FIXED_NOW + timedelta(hours=1)
    fhir.seed.write_text(
        json.dumps(
            [
                fhir_appointment("apt-x", "p-x", start),
                fhir_patient("p-x", "Haddad", "Omar", date(1985, 4, 4)),
            ]
        )
    )
    fhir.start()
    clinic = clinic_factory(
        ehr_fhir_base_url=fhir.url,
        ehr_smart_token_url=fhir.url + "/token",
        ehr_smart_client_id="waiting-room-kiosk",
        ehr_smart_private_key_file=str(wrong_private),
    )
    add_appointments(
        clinic,
        [{"ref": "apt-x", "first_name": "Omar", "last_name": "Haddad",
          "date_of_birth": date(1985, 4, 4), "starts_at": start, "clinician": "Dr Smith"}],
    )  # fmt: skip
    clinic.start()
    try:
        post_records(clinic, pair(clinic), [check_in_record("apt-x", FIXED_NOW)])
        wait_for(lambda: len(fhir.entries("token_refused")) >= 2, 30, "token refusals")
    finally:
        clinic.stop()
        fhir.stop()
    assert fhir.entries("write") == []
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from clinic.db import make_engine
    from clinic.ehr.models import EhrOutbox

    engine = make_engine(clinic.database_url)
    with Session(engine) as session:
        message = session.scalars(select(EhrOutbox)).one()
        assert message.status == "pending" and message.attempts >= 2
        assert message.last_error == "token endpoint answered 401"
    engine.dispose()
