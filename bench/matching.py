"""Cost of the kiosk's match keys: one check-in match on the kiosk, one patient for a thief.

Measures, with the protocol's production argon2id parameters (sync/protocol.py):
- kiosk_match_ms: one `Kiosk.find_appointment` on a kiosk holding a day of appointments
  (the derivation plus the lookup; median of several runs); kiosk_part_match_ms the same
  when the patient types one part of a compound surname booked whole ("Garcia" for
  "Garcia Lopez": one derivation, the appointment carries a key per part), and
  kiosk_worst_match_ms when the patient types two surnames and the booking holds one
  ("Garcia Lopez" for "Garcia": the whole, then each typed part, are derived in turn);
- the CPU time of one key derivation, and from it the CPU cost of recovering one
  appointment from a stolen kiosk token or disk: every surname of a 50,000-name list with
  every birth date of 100 years has to go through argon2id under that day's salt
  (50,000 x 36,525 = 1.83e9 derivations; on average half of them before a given patient
  turns up, all of them to be sure of the whole day's list).

Prints a table and, last, one JSON object. Timings on a shared machine are noisy.
Usage: python bench/matching.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sync.protocol import (  # noqa: E402
    MATCH_KDF_MEMORY_KIB,
    MATCH_KDF_PARALLELISM,
    MATCH_KDF_TIME_COST,
    ClinicSettings,
    KioskAppointment,
    KioskPull,
    MatchKdf,
    MatchKeyPair,
    QueueState,
    derive_appointment_keys,
    derive_match_secret,
    match_day_salt,
)

SURNAMES = 50_000
BIRTH_DATES = 36_525  # 100 years of days
APPOINTMENTS = 200


def _kiosk(directory: Path, now: datetime) -> object:
    from argon2 import PasswordHasher

    from kiosk.config import KioskSettings
    from kiosk.services import Kiosk

    pin_hash = PasswordHasher(time_cost=1, memory_cost=1024).hash("unused-bench-pin")
    settings = KioskSettings(
        data_dir=directory, server_url="https://clinic.invalid", admin_pin_hash=pin_hash
    )
    return Kiosk.open(settings, clock=lambda: now, seed_demo=False)


def main() -> int:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    now = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    kdf = MatchKdf(day=now.date(), salt=match_day_salt(b"bench pepper", now.date()))
    derivations, cpu = [], []
    for i in range(args.runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        derive_match_secret(kdf, "Surname" + chr(97 + i % 26), date(1950, 1, 1) + timedelta(days=i))
        derivations.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    derive_s = statistics.median(derivations)
    # The attacker pays CPU time; on a shared machine wall time also counts waiting for a core.
    derive_cpu_s = statistics.median(cpu)

    from kiosk.store import apply_pull

    with tempfile.TemporaryDirectory() as tmp:
        kiosk = _kiosk(Path(tmp), now)
        # Half of the known people hold a compound surname, half a single one.
        people = [
            (
                "Bench" + "abcdefgh"[i] * 3 + ("" if i % 2 else " Zed" + "abcdefgh"[i] * 2),
                date(1940, 1, 1) + timedelta(days=97 * i),
            )
            for i in range(8)
        ]
        keys = [derive_appointment_keys(kdf, name, born, None) for name, born in people]
        appointments = [
            KioskAppointment(
                ref=f"b{i}",
                match_key=keys[i][0][0] if i < len(people) else f"{i:064x}",
                part_keys=(
                    [MatchKeyPair(match_key=match) for match, _ in keys[i][1:]]
                    if i < len(people)
                    else []
                ),
                starts_at=now + timedelta(minutes=i % 20),
                first_initial="B",
                clinician="Dr. Bench",
            )
            for i in range(APPOINTMENTS)
        ]
        pull = KioskPull(
            generated_at=now,
            match_kdf=kdf,
            clinic=ClinicSettings(name="Bench"),
            faq=[],
            appointments=appointments,
            queue=QueueState(waiting=0, estimated_wait_minutes=0),
        )
        with kiosk.db.write() as session:  # type: ignore[attr-defined]
            apply_pull(pull, session=session)
        matches, matches_cpu = [], []
        for i in range(args.runs):
            name, born = people[i % len(people)]
            started, started_cpu = time.perf_counter(), time.process_time()
            found = kiosk.find_appointment(name, born)  # type: ignore[attr-defined]
            matches.append(time.perf_counter() - started)
            matches_cpu.append(time.process_time() - started_cpu)
            assert found.status.name == "MATCHED", found.status
        parts, worst = [], []
        for i in range(args.runs):
            compound_name, compound_born = people[2 * (i % 4)]
            started = time.perf_counter()
            found = kiosk.find_appointment(compound_name.split()[0], compound_born)  # type: ignore[attr-defined]
            parts.append(time.perf_counter() - started)
            assert found.status.name == "MATCHED", found.status
            single_name, single_born = people[2 * (i % 4) + 1]
            started = time.perf_counter()
            found = kiosk.find_appointment(single_name + " Otherpart", single_born)  # type: ignore[attr-defined]
            worst.append(time.perf_counter() - started)
            assert found.status.name == "MATCHED", found.status
        kiosk.close()  # type: ignore[attr-defined]
    part_ms = statistics.median(parts) * 1000
    worst_ms = statistics.median(worst) * 1000
    match_ms = statistics.median(matches) * 1000
    match_cpu_ms = statistics.median(matches_cpu) * 1000

    space = SURNAMES * BIRTH_DATES
    full_hours = space * derive_cpu_s / 3600
    expected_hours = full_hours / 2
    print(
        f"argon2id t={MATCH_KDF_TIME_COST} m={MATCH_KDF_MEMORY_KIB // 1024} MiB "
        f"p={MATCH_KDF_PARALLELISM}; {args.runs} runs, medians"
    )
    print(f"one key derivation, wall time:        {derive_s * 1000:8.1f} ms")
    print(f"one key derivation, CPU time:         {derive_cpu_s * 1000:8.1f} ms")
    print(f"one kiosk match ({APPOINTMENTS} appointments): {match_ms:8.1f} ms wall")
    print(f"one kiosk match, CPU time:            {match_cpu_ms:8.1f} ms")
    print(f"one surname part of a compound name:  {part_ms:8.1f} ms wall")
    print(f"two surnames typed, one booked:       {worst_ms:8.1f} ms wall")
    print(f"guesses per clinic day ({SURNAMES:,} surnames x {BIRTH_DATES:,} dates): {space:.3e}")
    print(f"CPU to recover one given patient (half the space): {expected_hours:,.0f} core-hours")
    print(f"CPU to sweep the day's whole space:                {full_hours:,.0f} core-hours")
    print(
        json.dumps(
            {
                "kiosk_match_ms": round(match_ms, 1),
                "kiosk_match_cpu_ms": round(match_cpu_ms, 1),
                "kiosk_part_match_ms": round(part_ms, 1),
                "kiosk_worst_match_ms": round(worst_ms, 1),
                "derivation_ms": round(derive_s * 1000, 1),
                "derivation_cpu_ms": round(derive_cpu_s * 1000, 1),
                "attacker_cpu_hours_per_patient": round(expected_hours),
                "attacker_cpu_hours_full_day": round(full_hours),
                "kdf": {
                    "time_cost": MATCH_KDF_TIME_COST,
                    "memory_kib": MATCH_KDF_MEMORY_KIB,
                    "parallelism": MATCH_KDF_PARALLELISM,
                },
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
