"""Schedule in: FHIR R4 Appointment search (today and tomorrow) and HL7 v2 SIU over MLLP.

Both end in `apply_appointment`: an appointment is found again by its source's id (its
link) or its ref, so a repeated pull or message changes it instead of adding a second one.
Names are stored as the EHR spells them; the kiosk's match keys fold case, accents, spaces
and hyphens in one place (sync.protocol.normalize_last_name).
"""

from __future__ import annotations

import logging
import socketserver
import threading
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import hl7
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.patient import Patient as FhirPatient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from clinic.ehr.config import EhrSettings
from clinic.ehr.fhir import FhirClient
from clinic.ehr.hl7v2 import build_ack, frame, read_frame
from clinic.ehr.models import EhrAppointmentLink, EhrLinkState
from clinic.models import Appointment, AppointmentStatus, utcnow

log = logging.getLogger(__name__)

#: What an EHR status means for our copy of the appointment.
KEEP, CANCEL, NO_SHOW = "keep", "cancel", "no_show"
FHIR_STATUS_EFFECT = {
    "proposed": KEEP,
    "pending": KEEP,
    "booked": KEEP,
    "arrived": KEEP,
    "checked-in": KEEP,
    "fulfilled": KEEP,
    "waitlist": KEEP,
    "cancelled": CANCEL,
    "entered-in-error": CANCEL,
    "noshow": NO_SHOW,
}
SIU_EFFECT = {"S12": KEEP, "S13": KEEP, "S14": KEEP, "S15": CANCEL, "S26": NO_SHOW}


class ScheduleError(ValueError):
    """An incoming appointment cannot be used (the reason goes back to the sender)."""


@dataclass(frozen=True)
class IncomingAppointment:
    source: str  # "fhir" or "hl7"
    external_id: str
    patient_id: str
    first_name: str
    last_name: str
    date_of_birth: date
    starts_at: datetime
    clinician: str
    phone: str | None
    effect: str
    version: str | None = None


@dataclass
class ApplyReport:
    created: int = 0
    updated: int = 0
    cancelled: int = 0
    no_shows: int = 0
    unchanged: int = 0
    skipped: int = 0


def apply_appointment(
    *, session: Session, incoming: IncomingAppointment, report: ApplyReport
) -> None:
    """Create, change, cancel or mark no-show one appointment; never duplicate it."""
    link = session.scalar(
        select(EhrAppointmentLink).where(
            EhrAppointmentLink.source == incoming.source,
            EhrAppointmentLink.external_id == incoming.external_id,
        )
    )
    appointment = session.get(Appointment, link.appointment_id) if link else None
    if appointment is None:
        appointment = session.scalar(
            select(Appointment).where(Appointment.ref == incoming.external_id)
        )
    if incoming.effect == CANCEL:
        if appointment is None:
            report.unchanged += 1
        elif appointment.status == AppointmentStatus.BOOKED:
            session.delete(appointment)  # the link goes with it (ON DELETE CASCADE)
            report.cancelled += 1
        else:
            report.skipped += 1  # the patient is already here: staff decide
        return
    values = {
        "first_name": incoming.first_name[:80],
        "last_name": incoming.last_name[:80],
        "date_of_birth": incoming.date_of_birth,
        "starts_at": incoming.starts_at,
        "clinician": incoming.clinician[:80],
        "phone": incoming.phone[:32] if incoming.phone else None,
    }
    if appointment is None:
        appointment = Appointment(
            ref=incoming.external_id[:64], status=AppointmentStatus.BOOKED, **values
        )
        session.add(appointment)
        session.flush()
        report.created += 1
    elif any(getattr(appointment, k) != v for k, v in values.items()):
        for key, value in values.items():
            setattr(appointment, key, value)
        report.updated += 1
    else:
        report.unchanged += 1
    if incoming.effect == NO_SHOW and appointment.status == AppointmentStatus.BOOKED:
        appointment.status = AppointmentStatus.NO_SHOW
        report.no_shows += 1
    if link is None:
        link = session.get(EhrAppointmentLink, appointment.id)
    if link is None:
        session.add(
            EhrAppointmentLink(
                appointment_id=appointment.id,
                source=incoming.source,
                external_id=incoming.external_id[:64],
                patient_id=incoming.patient_id[:64],
                version=incoming.version,
            )
        )
    else:
        link.source, link.external_id = incoming.source, incoming.external_id[:64]
        link.patient_id, link.version = incoming.patient_id[:64], incoming.version


# ---------------------------------------------------------------------------------------
# FHIR R4 pull
# ---------------------------------------------------------------------------------------
def schedule_window(now: datetime, tz: ZoneInfo) -> tuple[date, date]:
    """Return the first day and the day after the last day pulled (today and tomorrow)."""
    today = now.astimezone(tz).date()
    return today, today + timedelta(days=2)


def pull_fhir_schedule(
    *, client: FhirClient, writer: sessionmaker[Session], tz: ZoneInfo, now: datetime
) -> ApplyReport:
    """Search today's and tomorrow's appointments with their patients; apply every page."""
    first, end = schedule_window(now, tz)
    params = {
        "date": f"ge{datetime.combine(first, time(), tz).isoformat()}",
        "_include": "Appointment:patient",
        "_count": "100",
    }
    # Two `date` parameters: requests sends a list value as repeated keys.
    query: dict[str, Any] = dict(params)
    query["date"] = [params["date"], f"lt{datetime.combine(end, time(), tz).isoformat()}"]
    report = ApplyReport()
    appointments: list[FhirAppointment] = []
    patients: dict[str, FhirPatient] = {}
    for bundle in client.search_pages(query):
        for entry in bundle.get("entry", []):
            resource = entry.get("resource") or {}
            kind = resource.get("resourceType")
            if kind == "Appointment":
                appointments.append(FhirAppointment.model_validate(resource))
            elif kind == "Patient":
                patient = FhirPatient.model_validate(resource)
                patients[f"Patient/{patient.id}"] = patient
    with writer.begin() as session:
        for appointment in appointments:
            try:
                incoming = _from_fhir(appointment, patients, tz)
            except ScheduleError as exc:
                log.warning("FHIR appointment %s skipped: %s", appointment.id, exc)
                report.skipped += 1
                continue
            apply_appointment(session=session, incoming=incoming, report=report)
        _remove_vanished(
            session=session,
            seen={str(a.id) for a in appointments},
            window=(datetime.combine(first, time(), tz), datetime.combine(end, time(), tz)),
            report=report,
        )
        state = session.get(EhrLinkState, "schedule") or EhrLinkState(target="schedule")
        state.last_success_at = utcnow()
        session.add(state)
    return report


def _remove_vanished(
    *, session: Session, seen: set[str], window: tuple[datetime, datetime], report: ApplyReport
) -> None:
    """Remove FHIR-sourced bookings in the window that the complete search no longer holds.

    The search followed every page, so an appointment missing from it was deleted in the
    EHR (not just cancelled); one a patient already checked in for is left to staff.
    """
    rows = session.execute(
        select(Appointment, EhrAppointmentLink.external_id)
        .join(EhrAppointmentLink, EhrAppointmentLink.appointment_id == Appointment.id)
        .where(
            EhrAppointmentLink.source == "fhir",
            Appointment.starts_at >= window[0],
            Appointment.starts_at < window[1],
            Appointment.status == AppointmentStatus.BOOKED.value,
        )
    ).all()
    for appointment, external_id in rows:
        if external_id not in seen:
            session.delete(appointment)
            report.cancelled += 1


def _from_fhir(
    appointment: FhirAppointment, patients: dict[str, FhirPatient], tz: ZoneInfo
) -> IncomingAppointment:
    if not appointment.id or appointment.start is None:
        raise ScheduleError("no id or no start")
    patient_ref = None
    clinician = ""
    for participant in appointment.participant or []:
        actor = participant.actor
        reference = str(actor.reference or "") if actor else ""
        if reference.startswith("Patient/"):
            patient_ref = reference
        elif reference.startswith(("Practitioner/", "PractitionerRole/")) or (
            actor and actor.display and not clinician
        ):
            clinician = str(actor.display or clinician) if actor else clinician
    patient = patients.get(patient_ref or "")
    if patient is None:
        raise ScheduleError("its patient is not in the bundle")
    if patient.birthDate is None or not patient.name:
        raise ScheduleError("its patient has no name or no birth date")
    name = next((n for n in patient.name if n.use == "official"), patient.name[0])
    if not name.family:
        raise ScheduleError("its patient has no family name")
    phone = next(
        (str(t.value) for t in patient.telecom or [] if t.system == "phone" and t.value), None
    )
    start = appointment.start
    starts_at = start if start.tzinfo else start.replace(tzinfo=tz)
    return IncomingAppointment(
        source="fhir",
        external_id=str(appointment.id),
        patient_id=str(patient.id),
        first_name=" ".join(str(g) for g in name.given or []) or "-",
        last_name=str(name.family),
        date_of_birth=patient.birthDate,
        starts_at=starts_at,
        clinician=clinician or "-",
        phone=phone,
        effect=FHIR_STATUS_EFFECT.get(str(appointment.status), KEEP),
        version=str(appointment.meta.versionId) if appointment.meta else None,
    )


class SchedulePoller:
    """Pull the FHIR schedule every `schedule_poll_seconds` and when asked (`pull_now`)."""

    def __init__(self, settings: EhrSettings, writer: sessionmaker[Session], tz: ZoneInfo) -> None:
        from clinic.ehr.worker import Senders

        self.settings, self.writer, self.tz = settings, writer, tz
        self.client = Senders(settings).fhir
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the daemon thread (first pull at once)."""
        self._thread = threading.Thread(target=self._run, name="ehr-schedule", daemon=True)
        self._thread.start()

    def start_once(self) -> None:
        """Pull once in a daemon thread (polling is off)."""
        self._stop.set()
        self._thread = threading.Thread(target=self._pull, name="ehr-schedule-once", daemon=True)
        self._thread.start()

    def pull_now(self) -> None:
        """Ask for a pull without waiting for the interval."""
        self.wake.set()

    def stop(self) -> None:
        """Stop the thread."""
        self._stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._pull()
            self.wake.wait(self.settings.schedule_poll_seconds)
            self.wake.clear()

    def _pull(self) -> None:
        """Pull once; record a failure on the schedule's link state."""
        try:
            if self.client is not None:
                pull_fhir_schedule(client=self.client, writer=self.writer, tz=self.tz, now=utcnow())
        except Exception as exc:  # noqa: BLE001 - record and try again next time
            log.warning("FHIR schedule pull failed: %s", type(exc).__name__)
            with self.writer.begin() as session:
                state = session.get(EhrLinkState, "schedule") or EhrLinkState(target="schedule")
                state.last_error = f"schedule pull failed: {type(exc).__name__}: {exc}"[:500]
                state.last_error_at = utcnow()
                session.add(state)


# ---------------------------------------------------------------------------------------
# HL7 v2 SIU listener
# ---------------------------------------------------------------------------------------
def _hl7_datetime(value: str, tz: ZoneInfo) -> datetime:
    """Parse an HL7 DTM (YYYYMMDDHHMM[SS][+ZZZZ]); without an offset it is clinic time."""
    value = value.strip()
    offset = ""
    for sign in "+-":
        if sign in value[8:]:
            index = value.rindex(sign)
            value, offset = value[:index], value[index:]
    value = value.split(".")[0]
    formats = {12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}
    if len(value) not in formats:
        raise ScheduleError(f"bad date/time {value!r}")
    moment = datetime.strptime(value + offset, formats[len(value)] + ("%z" if offset else ""))
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def siu_to_incoming(message: hl7.Message, tz: ZoneInfo) -> IncomingAppointment:
    """Read one SIU message (python-hl7) into an appointment; ScheduleError says what's wrong."""
    trigger = str(message.extract_field("MSH", 1, 9, 1, 2))
    if trigger not in SIU_EFFECT:
        raise ScheduleError(f"unsupported trigger {trigger!r}")

    def field(segment: str, number: int, component: int = 1, repeat: int = 1) -> str:
        try:
            return str(message.extract_field(segment, 1, number, repeat, component)).strip()
        except (KeyError, IndexError):
            return ""

    external_id = field("SCH", 2) or field("SCH", 1)
    if not external_id:
        raise ScheduleError("SCH-2 (filler appointment id) and SCH-1 are empty")
    start = field("SCH", 11, 4)
    if not start:
        try:
            start = field("TQ1", 7)
        except KeyError:
            start = ""
    if not start:
        raise ScheduleError("no start time (SCH-11.4 or TQ1-7)")
    family, given = field("PID", 5, 1), field("PID", 5, 2)
    if not family:
        raise ScheduleError("PID-5 family name is empty")
    raw_dob = field("PID", 7)
    try:
        dob = datetime.strptime(raw_dob[:8], "%Y%m%d").date()
    except ValueError:
        raise ScheduleError(f"PID-7 birth date {raw_dob!r} is not YYYYMMDD") from None
    patient_id = field("PID", 3)
    if not patient_id:
        raise ScheduleError("PID-3 patient id is empty")
    clinician = " ".join(p for p in (field("AIP", 3, 3), field("AIP", 3, 2)) if p)
    return IncomingAppointment(
        source="hl7",
        external_id=external_id,
        patient_id=patient_id,
        first_name=given or "-",
        last_name=family,
        date_of_birth=dob,
        starts_at=_hl7_datetime(start, tz),
        clinician=clinician or "-",
        phone=field("PID", 13) or None,
        effect=SIU_EFFECT[trigger],
    )


def handle_siu(
    raw: str, *, settings: EhrSettings, writer: sessionmaker[Session], tz: ZoneInfo
) -> str:
    """Apply one received message; return the ACK text (AA, AE or AR with the reason)."""
    now = utcnow()
    control, trigger, their_app, their_facility = "", "", "", ""
    try:
        message = hl7.parse(raw.replace("\n", "\r"))
        control = str(message.extract_field("MSH", 1, 10))
        trigger = str(message.extract_field("MSH", 1, 9, 1, 2))
        their_app = str(message.extract_field("MSH", 1, 3))
        their_facility = str(message.extract_field("MSH", 1, 4))
        kind = str(message.extract_field("MSH", 1, 9, 1, 1))
    except Exception as exc:  # noqa: BLE001 - anything unreadable is refused
        code, text = "AR", f"unreadable message: {type(exc).__name__}"
    else:
        if kind != "SIU" or trigger not in SIU_EFFECT:
            code, text = "AR", f"unsupported message type {kind}^{trigger}"
        else:
            try:
                incoming = siu_to_incoming(message, tz)
                with writer.begin() as session:
                    apply_appointment(session=session, incoming=incoming, report=ApplyReport())
                    state = session.get(EhrLinkState, "schedule") or EhrLinkState(target="schedule")
                    state.last_success_at = now
                    session.add(state)
                code, text = "AA", ""
            except ScheduleError as exc:
                code, text = "AE", str(exc)
            except Exception as exc:  # noqa: BLE001 - the sender must hear of it
                log.exception("SIU message could not be stored")
                code, text = "AE", f"not stored: {type(exc).__name__}"
    return build_ack(
        code=code,
        text=text,
        acked_control_id=control,
        trigger=trigger,
        their_application=their_app,
        their_facility=their_facility,
        control_id=uuid.uuid4().hex[:20],
        now=now,
        sending_application=settings.hl7_sending_application,
        sending_facility=settings.hl7_sending_facility,
    )


class SiuListener:
    """An MLLP server (one thread per connection) that applies SIU messages and ACKs them."""

    def __init__(
        self, settings: EhrSettings, writer: sessionmaker[Session], tz: ZoneInfo | None = None
    ) -> None:
        listener = self
        self.settings, self.writer = settings, writer
        self.tz = tz or ZoneInfo("UTC")

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.settimeout(300)
                while True:
                    try:
                        raw = read_frame(self.request)
                    except (OSError, ValueError):
                        return
                    if raw is None:
                        return
                    ack = handle_siu(
                        raw.decode("utf-8", errors="replace"),
                        settings=listener.settings,
                        writer=listener.writer,
                        tz=listener.tz,
                    )
                    self.request.sendall(frame(ack))

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(
            (settings.siu_listen_host, settings.siu_listen_port or 0), Handler
        )
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="ehr-siu", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()
