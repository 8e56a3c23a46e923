"""The timed alert rules' minutes: the server's settings, or what an admin saved on the dashboard.

An admin's values live in the clinic's settings row (`clinic_settings`), so every server
process and host reads the same ones: the alert checker reads them at each run, whichever
process runs it. A column left NULL means "the server's setting" (CLINIC_ALERT_..._MINUTES);
"Use the server's settings" on the admin page clears them again. docs/live.md says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from clinic.config import MIN_KIOSK_SILENT_MINUTES, Settings
from clinic.models import ClinicConfig

#: Alerts look back this far: a situation older than it is never alerted on (a server
#: started after a long pause stays quiet). Used by clinic.alerting.
LOOKBACK = timedelta(hours=12)
#: The most minutes a rule may wait: at least two hours inside LOOKBACK, so the situation
#: is still looked at for a while after it crossed the rule.
MAX_MINUTES = 600


@dataclass(frozen=True)
class AlertMinutes:
    """Minutes after which each timed rule fires (0: the rule is off)."""

    question_unanswered: int
    patient_waiting: int
    kiosk_silent: int


@dataclass(frozen=True)
class Field:
    """One rule's minutes as the admin form names and describes it."""

    name: str  # the form field and AlertMinutes attribute
    label: str
    minimum: int  # the least non-zero value


FIELDS = (
    Field("question_unanswered", "Question unanswered", 1),
    Field("patient_waiting", "Patient waiting", 1),
    Field("kiosk_silent", "Kiosk silent", MIN_KIOSK_SILENT_MINUTES),
)


def from_settings(settings: Settings) -> AlertMinutes:
    """Return the minutes the server's settings give."""
    return AlertMinutes(
        question_unanswered=settings.alert_question_unanswered_minutes,
        patient_waiting=settings.alert_patient_waiting_minutes,
        kiosk_silent=settings.alert_kiosk_silent_minutes,
    )


def overridden(config: ClinicConfig) -> bool:
    """Return whether an admin's values are stored (else the server's settings apply)."""
    return any(getattr(config, f"alert_{f.name}_minutes") is not None for f in FIELDS)


def effective(*, session: Session, settings: Settings) -> AlertMinutes:
    """Return the minutes in force: each stored value, else the server's setting."""
    base = from_settings(settings)
    config = ClinicConfig.of(session)
    values = {}
    for f in FIELDS:
        stored = getattr(config, f"alert_{f.name}_minutes")
        values[f.name] = getattr(base, f.name) if stored is None else int(stored)
    return AlertMinutes(**values)


def field_problem(f: Field, raw: str) -> str | None:
    """Say what is wrong with one submitted value (None if it is a valid number of minutes)."""
    text = raw.strip()
    rule = f"enter 0 to turn the alert off, or whole minutes from {f.minimum} to {MAX_MINUTES}"
    if not text:
        return f"{f.label}: no value; {rule}."
    if not text.isascii() or not text.isdigit():
        return f"{f.label}: {text[:12]!r} is not a whole number; {rule}."
    value = int(text) if len(text) <= 9 else MAX_MINUTES + 1  # int() refuses 4,300+ digits
    if value == 0:
        return None
    if value < f.minimum:
        return (
            f"{f.label}: {value} minutes is too short; {rule} (a kiosk's last contact "
            "is recorded to about 2 minutes)."
        )
    if value > MAX_MINUTES:
        return (
            f"{f.label}: {text[:12]} minutes is too long; {rule} (alerts look back "
            f"{int(LOOKBACK.total_seconds() // 3600)} hours)."
        )
    return None


def parse(form: Mapping[str, str]) -> tuple[AlertMinutes | None, dict[str, str]]:
    """Validate the admin form's values; return the minutes, or None and a message per field."""
    errors: dict[str, str] = {}
    for f in FIELDS:
        problem = field_problem(f, form.get(f.name, ""))
        if problem:
            errors[f.name] = problem
    if errors:
        return None, errors
    return AlertMinutes(**{f.name: int(form[f.name].strip()) for f in FIELDS}), {}


def save(config: ClinicConfig, minutes: AlertMinutes | None) -> None:
    """Store an admin's minutes on the settings row (None: back to the server's settings)."""
    for f in FIELDS:
        value = None if minutes is None else getattr(minutes, f.name)
        setattr(config, f"alert_{f.name}_minutes", value)
