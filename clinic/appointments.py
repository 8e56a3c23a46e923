"""Appointment CSV import: each bad row gets a precise error, good rows are kept.

Columns (header row required, order free, extra columns refused):
ref, first_name, last_name, date_of_birth (YYYY-MM-DD), starts_at (ISO 8601; without an
offset it is clinic-local time), clinician, phone (optional).
A ref already in the database is updated (unless the patient has arrived).

Each imported appointment gets its kiosk match keys at once (argon2id under its clinic
day's salt, about 60 ms a row; docs/security.md), so pulls only read them.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.models import Appointment, AppointmentStatus, ClinicConfig
from sync.protocol import MatchKdf, derive_appointment_keys, match_day_salt
from sync.rules import MAX_PHONE_CHARS, MAX_PHONE_DIGITS, MIN_PHONE_DIGITS, is_phone

REQUIRED_COLUMNS = ("ref", "first_name", "last_name", "date_of_birth", "starts_at", "clinician")
OPTIONAL_COLUMNS = ("phone",)
LIMITS = {"ref": 64, "first_name": 80, "last_name": 80, "clinician": 80, "phone": MAX_PHONE_CHARS}


@dataclass
class RowError:
    row: int  # line number in the file (the header is line 1)
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        """Return how many rows were not imported."""
        return len({error.row for error in self.errors})

    @property
    def ok(self) -> bool:
        """Return whether every row was imported."""
        return not self.errors

    def audit_details(self) -> dict[str, int]:
        """Return the counts the audit log keeps of an import (never a row's values)."""
        return {"created": self.created, "updated": self.updated, "errors": len(self.errors)}


class CsvFormatError(ValueError):
    """The file as a whole cannot be read (encoding, header)."""


def import_appointments_csv(*, session: Session, data: bytes | str, tz: ZoneInfo) -> ImportReport:
    """Import appointments from CSV text; keep good rows, report bad ones."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CsvFormatError(f"file is not UTF-8 (byte {exc.start})") from None
    else:
        text = data.removeprefix("\ufeff")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise CsvFormatError("empty file: expected a header row")
    reader.fieldnames = header
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if missing or unknown:
        parts = []
        if missing:
            parts.append("missing columns: " + ", ".join(missing))
        if unknown:
            parts.append("unknown columns: " + ", ".join(unknown))
        raise CsvFormatError("; ".join(parts))

    report = ImportReport()
    seen: dict[str, int] = {}
    parsed: list[tuple[int, dict[str, object]]] = []
    for raw in reader:
        line = reader.line_num
        if None in raw:
            report.errors.append(RowError(line, None, "more fields than columns in the header"))
            continue
        values = {k: (v or "").strip() for k, v in raw.items()}
        if not any(values.values()):
            continue
        errors, row = _parse_row(values, tz)
        if row is not None:
            ref = str(row["ref"])
            if ref in seen:
                errors.append(
                    RowError(line, "ref", f"ref {ref!r} already used on line {seen[ref]}")
                )
            else:
                seen[ref] = line
        if errors:
            for error in errors:
                error.row = line
            report.errors.extend(errors)
            continue
        assert row is not None
        parsed.append((line, row))

    existing = {
        a.ref: a
        for a in session.scalars(
            select(Appointment).where(Appointment.ref.in_([str(r["ref"]) for _, r in parsed]))
        )
    }
    pepper = match_pepper(session=session)
    for line, row in parsed:
        current = existing.get(str(row["ref"]))
        if current is None:
            created = Appointment(**row, status=AppointmentStatus.BOOKED)
            set_match_keys(created, pepper=pepper, tz=tz)
            session.add(created)
            report.created += 1
        elif current.status != AppointmentStatus.BOOKED:
            report.errors.append(
                RowError(
                    line, "ref", f"appointment {row['ref']!r} is {current.status}; not changed"
                )
            )
        else:
            for key, value in row.items():
                setattr(current, key, value)
            set_match_keys(current, pepper=pepper, tz=tz)
            report.updated += 1
    session.flush()
    return report


def match_pepper(*, session: Session) -> bytes:
    """Return the clinic's secret from which every day's match salt is derived."""
    return bytes.fromhex(ClinicConfig.of(session).hash_key)


def day_kdf(*, pepper: bytes, day: date) -> MatchKdf:
    """Return the match-key salt and cost of one clinic day."""
    return MatchKdf(day=day, salt=match_day_salt(pepper, day))


def kdf_tag(kdf: MatchKdf) -> str:
    """Return what identifies a day's salt and cost (stored next to derived keys)."""
    return f"{kdf.salt}:{kdf.time_cost}:{kdf.memory_kib}:{kdf.parallelism}"


@lru_cache(maxsize=16384)
def _derive(
    kdf: MatchKdf, last_name: str, date_of_birth: date, phone: str | None
) -> tuple[tuple[str, str | None], ...]:
    return tuple(derive_appointment_keys(kdf, last_name, date_of_birth, phone))


def set_match_keys(appointment: Appointment, *, pepper: bytes | None, tz: ZoneInfo) -> None:
    """Derive and store an appointment's match keys under its clinic day's salt."""
    if pepper is None:
        return
    kdf = day_kdf(pepper=pepper, day=appointment.starts_at.astimezone(tz).date())
    keys = appointment_keys(appointment, kdf)
    appointment.match_key, appointment.phone_key = keys[0]
    appointment.part_keys = [[match, phone] for match, phone in keys[1:]]
    appointment.match_tag = kdf_tag(kdf)


def appointment_keys(appointment: Appointment, kdf: MatchKdf) -> list[tuple[str, str | None]]:
    """Return an appointment's (match key, phone key) pairs under `kdf`, whole surname first.

    The stored keys are used when they were derived under `kdf`; otherwise every surname
    variant goes through argon2id again (sync.protocol.derive_appointment_keys).
    """
    if appointment.match_key and appointment.match_tag == kdf_tag(kdf):
        parts = [(str(match), phone) for match, phone in appointment.part_keys or []]
        return [(appointment.match_key, appointment.phone_key), *parts]
    return list(_derive(kdf, appointment.last_name, appointment.date_of_birth, appointment.phone))


def _parse_row(
    values: dict[str, str], tz: ZoneInfo
) -> tuple[list[RowError], dict[str, object] | None]:
    errors: list[RowError] = []
    for column in REQUIRED_COLUMNS:
        if not values.get(column):
            errors.append(RowError(0, column, f"{column} is required"))
    for column, limit in LIMITS.items():
        if len(values.get(column, "")) > limit:
            errors.append(RowError(0, column, f"{column} longer than {limit} characters"))
    dob: date | None = None
    if values.get("date_of_birth"):
        try:
            dob = date.fromisoformat(values["date_of_birth"])
        except ValueError:
            errors.append(RowError(0, "date_of_birth", "date_of_birth must be YYYY-MM-DD"))
        else:
            if dob > date.today():
                errors.append(RowError(0, "date_of_birth", "date_of_birth is in the future"))
    starts: datetime | None = None
    if values.get("starts_at"):
        try:
            starts = datetime.fromisoformat(values["starts_at"])
        except ValueError:
            errors.append(
                RowError(0, "starts_at", "starts_at must be ISO 8601, e.g. 2026-03-01T09:30")
            )
        else:
            if starts.tzinfo is None:
                starts = starts.replace(tzinfo=tz)
    phone = values.get("phone") or None
    if phone and not is_phone(phone):
        errors.append(
            RowError(
                0,
                "phone",
                f"phone must hold {MIN_PHONE_DIGITS}-{MAX_PHONE_DIGITS} digits"
                " (and only + ( ) - spaces besides)",
            )
        )
    if errors:
        return errors, None
    return [], {
        "ref": values["ref"],
        "first_name": values["first_name"],
        "last_name": values["last_name"],
        "date_of_birth": dob,
        "starts_at": starts,
        "clinician": values["clinician"],
        "phone": phone,
    }
