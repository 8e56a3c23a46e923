"""The receipt's wait range from the pull's optional ranges, and the single figure without."""

from __future__ import annotations

from datetime import date, timedelta

from kiosk_core_helpers import MATCH_KDF, NOON, Clock, Person, load_people

from kiosk.services import Kiosk
from kiosk.store import apply_pull
from sync.protocol import (
    ClinicSettings,
    KioskAppointment,
    KioskPull,
    QueueState,
    WaitRange,
    derive_match_secret,
)

DOB = date(1980, 5, 6)


def _pull_with_ranges(kiosk: Kiosk, people: list[Person]) -> None:
    """Store a pull whose queue carries the optional ranges (a server of this version)."""
    # Dr. Test runs 5-20 min late; a walk-in waits 15-40 min.
    kdf = MATCH_KDF.model_copy(update={"day": kiosk.today()})
    pull = KioskPull(
        generated_at=kiosk.now(),
        match_kdf=kdf,
        clinic=ClinicSettings(name="Test Clinic"),
        faq=[],
        appointments=[
            KioskAppointment(
                ref=p.ref,
                match_key=derive_match_secret(kdf, p.last_name, p.dob).match_key,
                starts_at=p.starts_at,
                first_initial="T",
                clinician="Dr. Test",
            )
            for p in people
        ],
        queue=QueueState(
            waiting=2,
            estimated_wait_minutes=10,
            walk_in_wait=WaitRange(low=15, high=40),
            clinician_lateness={"Dr. Test": WaitRange(low=5, high=20)},
        ),
    )
    with kiosk.db.write() as session:
        apply_pull(pull, session=session)


def test_a_check_in_gets_time_to_the_appointment_plus_the_clinicians_lateness(
    empty_kiosk: Kiosk, clock: Clock
) -> None:
    people = [Person("r1", "Rangeone", DOB, NOON + timedelta(minutes=12))]
    _pull_with_ranges(empty_kiosk, people)
    receipt = empty_kiosk.check_in("r1", "en")
    assert (receipt.estimated_wait_minutes, receipt.estimated_wait_high_minutes) == (17, 32)


def test_a_walk_in_gets_the_walk_in_range_plus_walk_ins_since_the_pull(
    empty_kiosk: Kiosk, clock: Clock
) -> None:
    _pull_with_ranges(empty_kiosk, [])
    first = empty_kiosk.register_walk_in("Ana", "Rangetest", DOB, "Cough", None, "en")
    second = empty_kiosk.register_walk_in("Bo", "Rangetest", DOB, "Cough", None, "en")
    assert (first.estimated_wait_minutes, first.estimated_wait_high_minutes) == (15, 40)
    # One walk-in registered here since the pull: minutes_per_patient (10) more.
    assert (second.estimated_wait_minutes, second.estimated_wait_high_minutes) == (25, 50)


def test_without_ranges_or_when_stale_the_receipt_keeps_the_single_figure(
    empty_kiosk: Kiosk, clock: Clock
) -> None:
    people = [Person("r1", "Single", DOB, NOON), Person("r2", "Stale", DOB, NOON)]
    load_people(empty_kiosk, people, waiting=4, wait=20)  # a server of an earlier version
    receipt = empty_kiosk.check_in("r1", "en")
    assert (receipt.estimated_wait_minutes, receipt.estimated_wait_high_minutes) == (20, None)
    _pull_with_ranges(empty_kiosk, people)
    clock.advance(hours=3)  # the pulled ranges are stale now
    walk_in = empty_kiosk.register_walk_in("Cy", "Rangetest", DOB, "Cough", None, "en")
    assert walk_in.estimated_wait_high_minutes is None
