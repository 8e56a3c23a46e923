"""Demo mode: today's appointments for synthetic people, FAQ entries and clinic info.

Everything is seeded relative to "now" through the same `apply_pull` the sync worker uses,
so every flow can be tried at any time of day: several people are inside the check-in
window, one is too early, one too late, one already checked in, and two share a last name
and date of birth (the phone-last-4 path). docs/kiosk-demo.md lists who to type.
Without a paired server the demo kiosk makes its own random hash key.
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Protocol

from sqlalchemy import select

from kiosk.config import KioskSettings
from kiosk.db import Database
from kiosk.facade import MatchStatus
from kiosk.models import Appointment, CheckIn
from kiosk.state import StateKey, get_state
from kiosk.store import apply_pull
from kiosk.waiting import WaitingRoom
from sync.protocol import (
    ClinicSettings,
    FaqEntry,
    KioskAppointment,
    KioskPull,
    MatchKdf,
    MatchKeyPair,
    QueueState,
    derive_appointment_keys,
    match_day_salt,
    new_follow_up_token,
    shared_match_keys,
)
from sync.rules import day_bounds


# Same members as kiosk/syncing.py's _Kiosk: each module states only what it uses of
# kiosk.services.Kiosk as a Protocol of its own (decision 0005).
class DemoHost(Protocol):
    """What seeding needs of the kiosk (kiosk.services.Kiosk, which calls seed_demo)."""

    @property
    def settings(self) -> KioskSettings: ...

    @property
    def db(self) -> Database: ...

    def now(self) -> datetime: ...

    def today(self) -> date: ...

    @property
    def waiting(self) -> WaitingRoom: ...


log = logging.getLogger(__name__)


# Same first fields as clinic/demo.py's DemoPerson (the demo server's seed): kept apart
# because clinic never imports kiosk (decision 0005).
@dataclass(frozen=True)
class DemoPerson:
    """A synthetic patient with an appointment today (never a real person)."""

    key: str  # stable part of the appointment ref
    first_name: str
    last_name: str
    date_of_birth: date
    phone_last4: str | None
    offset_minutes: int  # appointment start relative to now
    clinician: str
    expected: MatchStatus  # what find_appointment says (with phone_last4 for the pair)
    exercises: str


DEMO_PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson(
        "okafor",
        "Ada",
        "Okafor",
        date(1984, 3, 12),
        "0101",
        5,
        "Dr. Rivera",
        MatchStatus.MATCHED,
        "inside the window: the plain check-in",
    ),
    DemoPerson(
        "munoz",
        "Benjamín",
        "Muñoz",
        date(1990, 7, 4),
        "0202",
        20,
        "Dr. Chen",
        MatchStatus.MATCHED,
        "inside the window; accents optional (type Munoz)",
    ),
    DemoPerson(
        "dubois",
        "Chloé",
        "Dubois",
        date(1975, 11, 30),
        None,
        -10,
        "Dr. Rivera",
        MatchStatus.MATCHED,
        "inside the window, 10 minutes late",
    ),
    DemoPerson(
        "obrien",
        "Iris",
        "O'Brien-Walsh",
        date(1988, 8, 8),
        "0303",
        12,
        "Dr. Adeyemi",
        MatchStatus.MATCHED,
        "inside the window; apostrophe and hyphen in the name",
    ),
    DemoPerson(
        "kim",
        "Daniel",
        "Kim",
        date(2001, 1, 15),
        "0404",
        0,
        "Dr. Chen",
        MatchStatus.MATCHED,
        "inside the window; also good for rating a known visit",
    ),
    DemoPerson(
        "petrova",
        "Elena",
        "Petrova",
        date(1968, 5, 22),
        "0505",
        180,
        "Dr. Adeyemi",
        MatchStatus.TOO_EARLY,
        "appointment in 3 hours: too early, see the front desk",
    ),
    DemoPerson(
        "haddad",
        "Farid",
        "Haddad",
        date(1959, 9, 9),
        "0606",
        -120,
        "Dr. Rivera",
        MatchStatus.TOO_LATE,
        "appointment 2 hours ago: too late, see the front desk",
    ),
    DemoPerson(
        "lindqvist",
        "Grace",
        "Lindqvist",
        date(1992, 2, 29),
        "0707",
        -5,
        "Dr. Chen",
        MatchStatus.ALREADY_CHECKED_IN,
        "already checked in (seeded): shows the earlier queue number; leap-day birth",
    ),
    DemoPerson(
        "smith-h",
        "Henry",
        "Smith",
        date(1980, 6, 1),
        "0142",
        10,
        "Dr. Rivera",
        MatchStatus.MATCHED,
        "shares last name + birth date with Hannah: AMBIGUOUS, then phone 0142",
    ),
    DemoPerson(
        "smith-a",
        "Hannah",
        "Smith",
        date(1980, 6, 1),
        "0199",
        15,
        "Dr. Adeyemi",
        MatchStatus.MATCHED,
        "shares last name + birth date with Henry: AMBIGUOUS, then phone 0199",
    ),
)

#: People with NO appointment today, for the no-match and walk-in flows.
DEMO_NO_APPOINTMENT = (("Jonas", "Weber", date(1970, 4, 1)),)

DEMO_CLINIC_NAME_DEFAULT = "Demo Clinic"

# Same loader as clinic/demo.py's: kept apart because clinic never imports kiosk (decision
# 0005); the FAQ itself is one file, assets/demo_faq.json.
DEMO_FAQ_FILE: Traversable = files("assets").joinpath("demo_faq.json")


def _load_demo_faq() -> dict[str, list[tuple[str, str, str]]]:
    """Read the demo FAQ (English and Spanish) that the demo kiosk and server both seed."""
    raw = json.loads(DEMO_FAQ_FILE.read_text(encoding="utf-8"))
    return {
        lang: [(e["id"], e["question"], e["answer"]) for e in items] for lang, items in raw.items()
    }


#: Demo FAQ entries per language: (id, question, answer). One file, assets/demo_faq.json,
#: feeds both the offline demo kiosk and the demo server, so they show the same answers.
DEMO_FAQ: dict[str, list[tuple[str, str, str]]] = _load_demo_faq()


def demo_ref(person: DemoPerson, day: date) -> str:
    """Return the appointment ref of a demo person on a clinic-local day."""
    return f"demo-{day.isoformat()}-{person.key}"


def _starts_at(
    now: datetime, offset_minutes: int, day_start: datetime, day_end: datetime
) -> datetime:
    """Return now + offset, kept inside today (so a near-midnight demo still has people)."""
    moment = now + timedelta(minutes=offset_minutes)
    last = day_end - timedelta(seconds=1)
    return min(max(moment, day_start), last).replace(microsecond=0)


def build_demo_pull(kiosk: DemoHost, pepper: bytes) -> KioskPull:
    """Return a pull holding today's demo appointments, FAQ, clinic and queue state."""
    settings = kiosk.settings
    now = kiosk.now()
    day = kiosk.today()
    tz = settings.tz
    day_start, day_end = day_bounds(day, tz)
    kdf = MatchKdf(day=day, salt=match_day_salt(pepper, day))
    derived = [
        derive_appointment_keys(kdf, person.last_name, person.date_of_birth, person.phone_last4)
        for person in DEMO_PEOPLE
    ]
    # As the server does: phone keys only where two appointments share a match key.
    shared = shared_match_keys(derived)
    appointments = [
        KioskAppointment(
            ref=demo_ref(person, day),
            match_key=whole[0],
            phone_key=whole[1] if whole[0] in shared else None,
            starts_at=_starts_at(now, person.offset_minutes, day_start, day_end),
            first_initial=person.first_name[0],
            clinician=person.clinician,
            part_keys=[
                MatchKeyPair(match_key=match, phone_key=phone if match in shared else None)
                for match, phone in parts
            ],
        )
        for person, (whole, *parts) in zip(DEMO_PEOPLE, derived, strict=True)
    ]
    faq = [
        FaqEntry(
            id=entry_id, language=language, question=question, answer=answer, position=position
        )
        for language in settings.languages
        for position, (entry_id, question, answer) in enumerate(DEMO_FAQ.get(language, []))
    ]
    clinic = ClinicSettings(
        name=settings.clinic_name,
        phone=settings.clinic_phone or "+1 555 0100",
        address="1 Example Street",
        languages=list(settings.languages),
        default_language=settings.default_language,
        check_in_early_minutes=settings.check_in_early_minutes,
        check_in_late_minutes=settings.check_in_late_minutes,
    )
    return KioskPull(
        generated_at=now,
        match_kdf=kdf,
        clinic=clinic,
        faq=faq,
        appointments=appointments,
        queue=QueueState(waiting=2, estimated_wait_minutes=20),
    )


def seed_demo(kiosk: DemoHost) -> bool:
    """Seed (or refresh, relative to now) today's demo data; return False if paired.

    A kiosk paired with a server keeps the server's data: seeding would overwrite it, and
    the next pull could answer 304 (unchanged) and never bring it back.
    """
    with kiosk.db.read_session() as session:
        if get_state(StateKey.KIOSK_TOKEN, session=session):
            log.info("demo seed skipped: the kiosk is paired with a server")
            return False
    with kiosk.db.write() as session:
        apply_pull(build_demo_pull(kiosk, secrets.token_bytes(32)), session=session)
    already = next(p for p in DEMO_PEOPLE if p.expected is MatchStatus.ALREADY_CHECKED_IN)
    ref = demo_ref(already, kiosk.today())
    with kiosk.db.read_session() as session:
        done = session.scalar(select(CheckIn.id).where(CheckIn.appointment_ref == ref))
    if done is None:
        _seed_local_check_in(kiosk, ref)
    return True


def _seed_local_check_in(kiosk: DemoHost, ref: str) -> None:
    """Store a check-in for `ref` on this kiosk only: demo data never enters the outbox.

    Written regardless of the configured window (it only has to exist), and without an outbox
    row, so no later pairing could deliver a synthetic patient to a real clinic server.
    """
    with kiosk.db.write() as session:
        appointment = session.get(Appointment, ref)
        if appointment is None:
            return
        now = kiosk.now()
        session.add(
            CheckIn(
                id=str(uuid.uuid4()),
                appointment_ref=ref,
                checked_in_at=now,
                queue_number=kiosk.waiting.next_queue_number(session),
                estimated_wait_minutes=kiosk.waiting.estimate_wait(session, now),
                follow_up_token=new_follow_up_token(),
                language=kiosk.settings.default_language,
            )
        )
        appointment.checked_in = True


def seed_bench_appointments(kiosk: DemoHost, count: int, *, prefix: str = "bench") -> list[str]:
    """Add `count` synthetic in-window appointments (for benchmarks); return their refs."""
    now = kiosk.now().replace(microsecond=0)
    refs = [f"{prefix}-{kiosk.today().isoformat()}-{i}" for i in range(count)]
    with kiosk.db.write() as session:
        for ref in refs:
            if session.get(Appointment, ref) is None:
                session.add(
                    Appointment(
                        ref=ref,
                        match_key=secrets.token_hex(32),
                        phone_key=None,
                        starts_at=now,
                        first_initial="B",
                        clinician="Dr. Bench",
                    )
                )
    return refs
