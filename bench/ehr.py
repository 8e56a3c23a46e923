"""Benchmark the EHR link: arrival-to-EHR latency and the drain rate after an outage.

    python bench/ehr.py [--latency-arrivals 100] [--outage-arrivals 1000]

Real processes on loopback: the clinic server (SQLite), the FHIR R4 test server and the
MLLP peer of tests/ehr. Measures:
- arrival_to_ehr_ms_p50/p95: from the kiosk's ingest request for one check-in to the FHIR
  server's log showing that appointment `arrived`, one check-in at a time, EHR up;
- drain_per_s: messages (FHIR + HL7) delivered per second once the EHR comes back after
  `--outage-arrivals` check-ins were stored while it was down.

Target: p95 <= 2 s. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "ehr"), str(ROOT / "tests" / "sync")]

from ehr_support import (  # noqa: E402
    FAST_EHR,
    FIXED_NOW,
    FhirServer,
    MllpPeer,
    add_appointments,
    check_in_record,
    ensure_fhir_schema,
    fhir_appointment,
    fhir_patient,
    pair,
    post_records,
)
from serverproc import ServerProcess, free_port  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from clinic.db import make_engine  # noqa: E402
from clinic.ehr.models import EhrOutbox  # noqa: E402


def _setup(work: Path, refs: list[str], *, up: bool) -> tuple[ServerProcess, FhirServer, MllpPeer]:
    schema = ensure_fhir_schema()
    start = FIXED_NOW + timedelta(hours=1)
    (work / "fhir").mkdir(parents=True)
    fhir = FhirServer(work / "fhir", schema)
    fhir.seed.write_text(
        json.dumps(
            [fhir_appointment(r, f"p-{r}", start) for r in refs]
            + [fhir_patient(f"p-{r}", "Rossi", "Luca", date(1990, 1, 1)) for r in refs]
        )
    )
    peer = MllpPeer(work)
    peer.port = free_port()
    clinic = ServerProcess(
        work / "clinic",
        **{
            **FAST_EHR,
            "ehr_fhir_base_url": f"http://127.0.0.1:{fhir.port}",
            "ehr_hl7_host": "127.0.0.1",
            "ehr_hl7_port": str(peer.port),
        },
    )
    clinic.migrate()
    add_appointments(
        clinic,
        [
            {"ref": r, "first_name": "Luca", "last_name": "Rossi",
             "date_of_birth": date(1990, 1, 1), "starts_at": start, "clinician": "Dr Smith"}
            for r in refs
        ],
    )  # fmt: skip
    if up:
        fhir.start()
        peer.start()
    # A loaded machine may take longer than the tests' 30 s to import and start the server.
    clinic.start(timeout=180)
    return clinic, fhir, peer


def latency(work: Path, arrivals: int) -> list[float]:
    """Return arrival-to-EHR latencies in ms, one check-in at a time."""
    refs = [f"lat-{i:04d}" for i in range(arrivals)]
    clinic, fhir, peer = _setup(work, refs, up=True)
    try:
        token = pair(clinic)
        samples = []
        for i, ref in enumerate(refs):
            began = time.perf_counter()
            post_records(clinic, token, [check_in_record(ref, FIXED_NOW + timedelta(seconds=i))])
            key = f"Appointment/{ref}"
            while not any(w["key"] == key for w in fhir.entries("write")[-5:]):
                time.sleep(0.005)
            samples.append((time.perf_counter() - began) * 1000)
        return samples
    finally:
        clinic.close()
        fhir.stop()
        peer.stop()


def drain(work: Path, arrivals: int) -> tuple[int, float]:
    """Return (messages, seconds) to deliver a backlog made while the EHR was down."""
    refs = [f"out-{i:04d}" for i in range(arrivals)]
    clinic, fhir, peer = _setup(work, refs, up=False)
    engine = make_engine(clinic.database_url)
    try:
        token = pair(clinic)
        post_records(
            clinic,
            token,
            [check_in_record(r, FIXED_NOW + timedelta(seconds=i)) for i, r in enumerate(refs)],
        )
        with Session(engine) as session:
            total = int(session.scalar(select(func.count()).select_from(EhrOutbox)) or 0)
        began = time.perf_counter()
        fhir.start()
        peer.start()
        while True:
            with Session(engine) as session:
                pending = session.scalar(select(func.count()).where(EhrOutbox.status == "pending"))
            if not pending:
                break
            time.sleep(0.05)
        return total, time.perf_counter() - began
    finally:
        engine.dispose()
        clinic.close()
        fhir.stop()
        peer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-arrivals", type=int, default=100)
    parser.add_argument("--outage-arrivals", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ehr-") as tmp:
        samples = latency(Path(tmp) / "latency", args.latency_arrivals)
        quantiles = statistics.quantiles(samples, n=100)
        p50, p95 = statistics.median(samples), quantiles[94]
        print(
            f"arrival -> EHR (FHIR arrived): p50 {p50:.0f} ms, p95 {p95:.0f} ms, n={len(samples)}"
        )
        messages, seconds = drain(Path(tmp) / "drain", args.outage_arrivals)
        print(f"drain after outage: {messages} messages in {seconds:.1f} s")
    print(
        json.dumps(
            {
                "arrival_to_ehr_ms_p50": round(p50, 1),
                "arrival_to_ehr_ms_p95": round(p95, 1),
                "drain_messages": messages,
                "drain_seconds": round(seconds, 2),
                "drain_per_s": round(messages / seconds, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
