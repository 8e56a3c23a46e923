"""Demo data for the clinic server: today's synthetic appointments, FAQ, clinic details, users.

The people, refs (demo-<day>-<key>) and FAQ match the kiosk's demo (docs/kiosk-demo.md), so a
demo kiosk paired with a demo server finds the same appointments. Synthetic people only.
Refused outside the dev/demo/test environments.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files
from importlib.resources.abc import Traversable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from clinic.accounts import create_user
from clinic.appointments import match_pepper, set_match_keys
from clinic.config import Settings
from clinic.models import (
    Appointment,
    AppointmentStatus,
    Arrival,
    ArrivalStatus,
    ClinicConfig,
    FaqEntryRow,
    StaffRole,
    StaffUser,
    utcnow,
)
from clinic.queue import today_bounds

DEMO_ADMIN = ("admin", "waiting-room-demo")
DEMO_STAFF = ("staff", "front-desk-demo")


# Same first fields as kiosk/demo.py's DemoPerson (the kiosk's adds what the guide shows):
# kept apart because clinic never imports kiosk (decision 0005).
@dataclass(frozen=True)
class DemoPerson:
    key: str
    first_name: str
    last_name: str
    date_of_birth: date
    phone_last4: str | None
    offset_minutes: int  # appointment start relative to now
    clinician: str
    already_arrived: bool = False


DEMO_PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("okafor", "Ada", "Okafor", date(1984, 3, 12), "0101", 5, "Dr. Rivera"),
    DemoPerson("munoz", "Benjamín", "Muñoz", date(1990, 7, 4), "0202", 20, "Dr. Chen"),
    DemoPerson("dubois", "Chloé", "Dubois", date(1975, 11, 30), None, -10, "Dr. Rivera"),
    DemoPerson("obrien", "Iris", "O'Brien-Walsh", date(1988, 8, 8), "0303", 12, "Dr. Adeyemi"),
    DemoPerson("kim", "Daniel", "Kim", date(2001, 1, 15), "0404", 0, "Dr. Chen"),
    DemoPerson("petrova", "Elena", "Petrova", date(1968, 5, 22), "0505", 180, "Dr. Adeyemi"),
    DemoPerson("haddad", "Farid", "Haddad", date(1959, 9, 9), "0606", -120, "Dr. Rivera"),
    DemoPerson("lindqvist", "Grace", "Lindqvist", date(1992, 2, 29), "0707", -5, "Dr. Chen", True),
    DemoPerson("smith-h", "Henry", "Smith", date(1980, 6, 1), "0142", 10, "Dr. Rivera"),
    DemoPerson("smith-a", "Hannah", "Smith", date(1980, 6, 1), "0199", 15, "Dr. Adeyemi"),
)

# Same loader as kiosk/demo.py's: kept apart because clinic never imports kiosk (decision
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
    """Return the appointment ref of a demo person on a clinic-local day (as the kiosk does)."""
    return f"demo-{day.isoformat()}-{person.key}"


class DemoRefused(RuntimeError):
    """Demo data may not be seeded in this environment."""


def seed_demo(*, session: Session, settings: Settings, now: datetime | None = None) -> list[str]:
    """Seed (or refresh relative to now) today's demo data; return what was done."""
    if settings.environment not in ("dev", "demo", "test"):
        raise DemoRefused("seed-demo only runs with CLINIC_ENVIRONMENT=dev, demo or test")
    now = now or utcnow()
    done: list[str] = []
    config = ClinicConfig.of(session)
    config.name = "Demo Clinic"
    config.phone = "+1 555 0100"
    config.address = "1 Example Street"
    config.languages = ["en", "es"]
    config.default_language = "en"

    for username, password, role in (
        (*DEMO_ADMIN, StaffRole.ADMIN),
        (*DEMO_STAFF, StaffRole.STAFF),
    ):
        if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is None:
            create_user(session=session, username=username, password=password, role=role)
            done.append(f"user {username} ({role})")

    session.execute(delete(FaqEntryRow).where(FaqEntryRow.id.like("demo-%")))
    for language, entries in DEMO_FAQ.items():
        for position, (key, question, answer) in enumerate(entries):
            session.add(
                FaqEntryRow(
                    id=f"demo-{language}-{key}",
                    language=language,
                    question=question,
                    answer=answer,
                    position=position,
                )
            )
    done.append(f"{sum(len(v) for v in DEMO_FAQ.values())} FAQ entries (en, es)")

    day_start, day_end = today_bounds(settings.tz, now)
    day = day_start.date()
    for person in DEMO_PEOPLE:
        ref = demo_ref(person, day)
        moment = now + timedelta(minutes=person.offset_minutes)
        starts_at = min(max(moment, day_start), day_end - timedelta(seconds=1)).replace(
            microsecond=0
        )
        phone = f"+1 555 010 {person.phone_last4}" if person.phone_last4 else None
        appointment = session.scalars(select(Appointment).where(Appointment.ref == ref)).first()
        if appointment is None:
            appointment = Appointment(
                ref=ref,
                first_name=person.first_name,
                last_name=person.last_name,
                date_of_birth=person.date_of_birth,
                phone=phone,
                starts_at=starts_at.astimezone(UTC),
                clinician=person.clinician,
                status=AppointmentStatus.BOOKED,
            )
            session.add(appointment)
            session.flush()
        else:
            appointment.starts_at = starts_at.astimezone(UTC)
        set_match_keys(appointment, pepper=match_pepper(session=session), tz=settings.tz)
        if person.already_arrived and appointment.status == AppointmentStatus.BOOKED:
            arrived_at = now - timedelta(minutes=3)
            appointment.status = AppointmentStatus.ARRIVED
            appointment.arrived_at = arrived_at
            session.add(
                Arrival(
                    id=uuid.uuid4(),
                    walk_in=False,
                    appointment_id=appointment.id,
                    appointment_ref=ref,
                    queue_number="A001",
                    status=ArrivalStatus.WAITING,
                    arrived_at=arrived_at,
                    language="en",
                )
            )
    done.append(f"{len(DEMO_PEOPLE)} appointments today ({day.isoformat()})")
    session.flush()
    return done
