"""Helpers for the kiosk core tests (imported by conftest and test modules)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select, table

from kiosk.models import KioskBase
from sync.outbox import OutboxBase
from sync.protocol import MatchKdf

if TYPE_CHECKING:
    from kiosk.services import Kiosk

#: A fixed "now" in the middle of a clinic day (UTC clinic).
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
#: Today's match-key salt; a lighter argon2id cost than production so the suite stays quick
#: (bench/matching.py measures the real cost).
MATCH_KDF = MatchKdf(day=NOON.date(), salt="00" * 15 + "2a", time_cost=1, memory_kib=1024)


@dataclass
class Clock:
    """A wall clock and a monotonic clock that only move when the test says so."""

    now: datetime = NOON
    mono: float = field(default=1000.0)

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, **delta: float) -> None:
        step = timedelta(**delta)
        self.now += step
        self.mono += step.total_seconds()


def row_counts(kiosk: Kiosk) -> dict[str, int]:
    """Return the number of rows in every table of the kiosk database."""
    names = [t.name for t in KioskBase.metadata.sorted_tables]
    names += [t.name for t in OutboxBase.metadata.sorted_tables]
    with kiosk.db.read_session() as session:
        return {
            name: int(session.scalar(select(func.count()).select_from(table(name))) or 0)
            for name in names
        }


@dataclass(frozen=True)
class Person:
    """A synthetic appointment holder for tests."""

    ref: str
    last_name: str
    dob: date
    starts_at: datetime
    phone_last4: str | None = None
    first_name: str = "Test"
    arrived: bool = False


def load_people(kiosk: Kiosk, people: list[Person], *, waiting: int = 0, wait: int = 0) -> None:
    """Store `people` as today's appointments through apply_pull (as the sync worker does)."""
    from kiosk.store import apply_pull
    from sync.protocol import (
        ClinicSettings,
        KioskAppointment,
        KioskPull,
        QueueState,
        derive_match_secret,
    )

    kdf = MATCH_KDF.model_copy(update={"day": kiosk.today()})
    secrets = {p.ref: derive_match_secret(kdf, p.last_name, p.dob) for p in people}
    pull = KioskPull(
        generated_at=kiosk.now(),
        match_kdf=kdf,
        clinic=ClinicSettings(name="Test Clinic"),
        faq=[],
        appointments=[
            KioskAppointment(
                ref=p.ref,
                match_key=secrets[p.ref].match_key,
                phone_key=secrets[p.ref].phone_key(p.phone_last4) if p.phone_last4 else None,
                starts_at=p.starts_at,
                first_initial=p.first_name[0],
                clinician="Dr. Test",
                arrived=p.arrived,
            )
            for p in people
        ],
        queue=QueueState(waiting=waiting, estimated_wait_minutes=wait),
    )
    with kiosk.db.write() as session:
        apply_pull(pull, session=session)
