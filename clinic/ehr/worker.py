"""The delivery worker: one daemon thread per server (or `clinic-server ehr-worker`).

Each turn it takes (or renews) the lease of each target, sends that target's due messages,
lane heads only, and records every result in the database. It wakes on an Event (a new
message from this process) or after `poll_seconds`, and stops promptly on `stop()`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from clinic.ehr.config import EhrSettings
from clinic.ehr.feedback import send_feedback
from clinic.ehr.fhir import (
    ENCOUNTER_STATUS,
    FHIR_STATUS,
    FhirClient,
    send_status,
    send_walk_in,
    walk_in_encounter,
)
from clinic.ehr.hl7v2 import ADT_EVENTS, Hl7Patient, MllpConnection, build_adt
from clinic.ehr.models import EhrAppointmentLink, EhrOutbox, EventKind
from clinic.ehr.queue import (
    FEEDBACK_EVENTS,
    Delivered,
    Refused,
    Retry,
    SendResult,
    due_messages,
    prune_done,
    record_result,
    release_leases,
    take_lease,
)
from clinic.ehr.smart import SmartTokenSource
from clinic.models import Appointment, Arrival, utcnow

log = logging.getLogger(__name__)
LEASE_SECONDS = 30.0
PRUNE_EVERY_SECONDS = 3600.0


class Senders:
    """The connections to the EHR; turns one queued message into one send."""

    def __init__(self, settings: EhrSettings, public_base_url: str = "") -> None:
        self.settings = settings
        self.public_base_url = public_base_url
        self.fhir: FhirClient | None = None
        self.hl7: MllpConnection | None = None
        if settings.fhir_base_url:
            auth = None
            if settings.smart_token_url and settings.smart_client_id:
                import requests

                auth = SmartTokenSource.from_file(
                    settings.smart_private_key_file or "",
                    token_url=settings.smart_token_url,
                    client_id=settings.smart_client_id,
                    algorithm=settings.smart_algorithm,
                    scope=settings.smart_scope,
                    key_id=settings.smart_key_id,
                    http=requests.Session(),
                    timeout=settings.request_timeout_seconds,
                )
            self.fhir = FhirClient(
                settings.fhir_base_url, timeout=settings.request_timeout_seconds, auth=auth
            )
        if settings.hl7_host and settings.hl7_port:
            self.hl7 = MllpConnection(
                settings.hl7_host, settings.hl7_port, settings.request_timeout_seconds
            )

    def send(self, *, session: Session, message: EhrOutbox, now: datetime) -> SendResult:
        """Send one message to its target."""
        event = EventKind(message.event)
        payload = message.payload
        appointment = None
        link = None
        if payload.get("appointment_id") is not None:
            appointment = session.get(Appointment, payload["appointment_id"])
            link = session.get(EhrAppointmentLink, payload["appointment_id"])
        if message.target == "fhir":
            if self.fhir is None:
                return Retry("FHIR target no longer configured")
            if event in FEEDBACK_EVENTS:
                return send_feedback(
                    self.fhir,
                    session=session,
                    payload=payload,
                    public_base_url=self.public_base_url,
                )
            if event is EventKind.WALK_IN or (
                appointment is None and event in ENCOUNTER_STATUS and _is_walk_in(session, payload)
            ):
                return self._send_walk_in(session, payload, event)
            if event not in FHIR_STATUS:
                return Delivered("no FHIR status for this event")
            if appointment is None:
                return Refused("no appointment to update (appointment removed)")
            external = link.external_id if link and link.source == "fhir" else appointment.ref
            return send_status(self.fhir, external, event)
        if message.target == "hl7":
            if self.hl7 is None:
                return Retry("HL7 target no longer configured")
            if event not in ADT_EVENTS:
                return Delivered("no HL7 v2 event for this change")
            patient = _hl7_patient(session, payload, appointment, link)
            if patient is None:
                return Refused("the patient's details were purged before they could be sent")
            er7 = build_adt(
                event=event,
                control_id=message.message_id,
                patient=patient,
                at=datetime.fromisoformat(payload["at"]),
                now=now,
                sending_application=self.settings.hl7_sending_application,
                sending_facility=self.settings.hl7_sending_facility,
                receiving_application=self.settings.hl7_receiving_application,
                receiving_facility=self.settings.hl7_receiving_facility,
            )
            return self.hl7.send(er7, message.message_id)
        return Refused(f"unknown target {message.target!r}")

    def _send_walk_in(
        self, session: Session, payload: dict[str, object], event: EventKind
    ) -> SendResult:
        assert self.fhir is not None
        arrival = session.get(Arrival, uuid.UUID(str(payload["arrival_id"])))
        if arrival is None or arrival.last_name is None:
            return Refused("the patient's details were purged before they could be sent")
        status = ENCOUNTER_STATUS[event]
        at = datetime.fromisoformat(str(payload["at"]))
        encounter = walk_in_encounter(
            arrival_id=str(arrival.id),
            last_name=arrival.last_name,
            first_name=arrival.first_name,
            date_of_birth=arrival.date_of_birth,
            arrived_at=at if event is EventKind.WALK_IN else arrival.arrived_at,
            status=status,
            ended_at=at if status in ("finished", "cancelled") else None,
        )
        return send_walk_in(self.fhir, encounter)

    def close(self) -> None:
        """Close the connections."""
        if self.hl7 is not None:
            self.hl7.close()
        if self.fhir is not None:
            self.fhir.http.close()


def _is_walk_in(session: Session, payload: dict[str, object]) -> bool:
    """Return whether a status change concerns a walk-in's arrival (no appointment)."""
    if payload.get("arrival_id") is None:
        return False
    arrival = session.get(Arrival, uuid.UUID(str(payload["arrival_id"])))
    return arrival is not None and arrival.walk_in


def _hl7_patient(
    session: Session,
    payload: dict[str, object],
    appointment: Appointment | None,
    link: EhrAppointmentLink | None,
) -> Hl7Patient | None:
    if appointment is not None:
        return Hl7Patient(
            patient_id=link.patient_id if link else appointment.ref,
            assigning_authority="EHR" if link else "CLINIC",
            last_name=appointment.last_name,
            first_name=appointment.first_name,
            date_of_birth=appointment.date_of_birth,
            visit_number=link.external_id if link else appointment.ref,
        )
    arrival = session.get(Arrival, uuid.UUID(str(payload["arrival_id"])))
    if arrival is None or arrival.last_name is None:
        return None
    dob: date | None = arrival.date_of_birth
    return Hl7Patient(
        patient_id=str(arrival.id),
        assigning_authority="KIOSK",
        last_name=arrival.last_name,
        first_name=arrival.first_name or "",
        date_of_birth=dob,
        visit_number=str(arrival.id),
    )


class EhrWorker:
    """Deliver queued EHR messages until stopped."""

    def __init__(
        self,
        settings: EhrSettings,
        writer: sessionmaker[Session],
        reader: sessionmaker[Session],
        *,
        public_base_url: str = "",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.writer = writer
        self.reader = reader
        self.clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        #: One thread per target, so a slow or absent EHR interface holds up only itself.
        self._wakes = {target: threading.Event() for target in settings.targets}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.senders = Senders(settings, public_base_url)
        #: A target that failed to answer is left alone until then (monotonic seconds).
        self._paused_until: dict[str, float] = {}

    def wake(self) -> None:
        """Look for work now (a message was just queued)."""
        for event in self._wakes.values():
            event.set()

    def start(self) -> None:
        """Start one daemon thread per target."""
        for target in self.settings.targets:
            thread = threading.Thread(
                target=self.run, args=(target,), name=f"ehr-worker-{target}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the threads to stop and wait for them within `timeout`."""
        self._stop.set()
        self.wake()
        for thread in self._threads:
            thread.join(timeout)
        self.senders.close()
        try:
            with self.writer.begin() as session:
                release_leases(session=session, owner=self.owner)
        except Exception:  # noqa: BLE001 - the lease then simply runs out
            log.warning("EHR worker could not release its leases")

    def run(self, target: str) -> None:
        """Loop: deliver what is due, then sleep until woken or the poll interval passes."""
        wake = self._wakes[target]
        next_prune = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_prune:
                next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                try:
                    with self.writer.begin() as session:
                        prune_done(
                            session=session,
                            target=target,
                            before=self.clock() - timedelta(days=self.settings.keep_done_days),
                        )
                except Exception:  # noqa: BLE001 - pruning waits for the next hour
                    log.exception("EHR outbox pruning failed")
            try:
                busy = self.run_once(target)
            except Exception:  # noqa: BLE001 - the worker must outlive any one failure
                log.exception("EHR worker turn failed")
                busy = False
            if not busy:
                paused = self._paused_until.get(target, 0.0) - time.monotonic()
                wake.wait(min(self.settings.poll_seconds, max(paused, 0.0) or 1e9))
                wake.clear()

    def run_once(self, target: str) -> bool:
        """Send one batch of `target`; return whether anything was sent or tried.

        Sends happen outside any write transaction (the SQLite write lock is never held
        across the network); results are stored afterwards in one short transaction. A
        crash in between re-sends, which the EHR sees as the same message (idempotent).
        """
        if self._stop.is_set() or time.monotonic() < self._paused_until.get(target, 0.0):
            return False
        with self.writer.begin() as session:
            if not take_lease(
                session=session,
                target=target,
                owner=self.owner,
                now=self.clock(),
                seconds=LEASE_SECONDS,
            ):
                return False
        results: list[tuple[int, SendResult]] = []
        with self.reader() as session:
            messages = due_messages(
                session=session, target=target, now=self.clock(), limit=self.settings.batch_size
            )
            for message in messages:
                result = self.senders.send(session=session, message=message, now=self.clock())
                if isinstance(result, Refused | Retry):
                    # The reason (kept for staff on the kiosks page) may quote the EHR's
                    # answer, which could echo patient data: the log gets the kind only.
                    log.warning("EHR %s message %s: %s", target, message.id, type(result).__name__)
                results.append((message.id, result))
                if isinstance(result, Retry):
                    break  # the target is down: the other lane heads wait their turn
        if not results:
            return False
        with self.writer.begin() as session:
            for message_id, result in results:
                stored = session.get(EhrOutbox, message_id)
                if stored is None:
                    continue
                wait = record_result(
                    session=session,
                    message=stored,
                    result=result,
                    now=self.clock(),
                    base=self.settings.retry_base_seconds,
                    cap=self.settings.retry_cap_seconds,
                    give_up_after=self.settings.give_up_after_seconds,
                )
                if isinstance(result, Retry):
                    # Leave the target alone (every lane) as long as this message waits,
                    # so an outage costs one probe per backoff step.
                    self._paused_until[target] = time.monotonic() + (wait or 0.0)
        return True


__all__ = ["Delivered", "EhrWorker", "Senders"]
