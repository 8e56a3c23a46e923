"""Alerts that find staff: rules run when records arrive and on a timer, never on page views.

- At ingest (`on_records_stored`, in the ingest transaction): an emergency-word question
  raises an alert at once; new ratings re-run the unhappy-share rule.
- On a timer (`checker_loop`, one process at a time through a claimed row in
  `maintenance_runs`): a question unanswered for N minutes, a patient waiting beyond N
  minutes, a kiosk silent for N minutes; then pending e-mails are sent.

Each alert has a `dedupe_key` naming its situation (a question, an arrival, one silence of
a kiosk, one unhappy window), unique in the table, so a rule that fires again on the next
run or in another process adds nothing. E-mails go through the clinic's SMTP server and
never carry patient data: the kind, the kiosk's name, a count, and "open the dashboard".
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clinic import alert_settings, maintenance, queue, waits
from clinic.alert_settings import LOOKBACK as LOOKBACK
from clinic.config import Settings
from clinic.db import Database
from clinic.live import publish
from clinic.logsafe import describe_exception
from clinic.models import (
    Alert,
    AlertEmail,
    AlertKind,
    Arrival,
    ArrivalStatus,
    Kiosk,
    Question,
    utcnow,
)

log = logging.getLogger(__name__)

CHECK_JOB = "alert_checks"
#: E-mail retries: attempts and the pause between them.
EMAIL_MAX_ATTEMPTS = 5
EMAIL_RETRY = timedelta(minutes=1)
#: Per run, at most this many alerts of one rule (the rest on the next run).
MAX_PER_RULE = 50

TITLES = {
    AlertKind.UNHAPPY_RATINGS: "Unhappy feedback",
    AlertKind.EMERGENCY_QUESTION: "Emergency-word question",
    AlertKind.QUESTION_UNANSWERED: "Question unanswered",
    AlertKind.PATIENT_WAITING: "Patient waiting long",
    AlertKind.KIOSK_SILENT: "Kiosk silent",
}


def email_configured(settings: Settings) -> bool:
    """Return whether alerts can be e-mailed (an SMTP host and at least one recipient)."""
    return bool(settings.smtp_host and settings.alert_email_to)


def raise_alert(
    *,
    session: Session,
    settings: Settings,
    kind: AlertKind,
    dedupe_key: str,
    details: dict[str, Any],
    now: datetime,
) -> Alert | None:
    """Store an alert unless one for the same situation exists; announce it; return it."""
    if session.scalar(select(Alert.id).where(Alert.dedupe_key == dedupe_key)) is not None:
        return None
    alert = Alert(
        kind=kind,
        raised_at=now,
        details=details,
        dedupe_key=dedupe_key,
        email_state=AlertEmail.PENDING if email_configured(settings) else AlertEmail.OFF,
        email_attempts=0,
    )
    try:
        with session.begin_nested():
            session.add(alert)
            session.flush()
    except IntegrityError:  # another process raised it a moment ago
        return None
    publish("alert", {"id": alert.id, "alert_kind": str(kind)}, session=session)
    return alert


# ---------------------------------------------------------------------------------------
# At ingest
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stored:
    """What one newly stored record was (no patient data)."""

    kind: str  # "arrival", "question", "rating", "amendment"
    record_id: str
    emergency: bool = False
    #: A rating's rated_at as stored (the unhappy-share rule looks only around it).
    at: datetime | None = None


def on_records_stored(
    *, session: Session, settings: Settings, kiosk: Kiosk, stored: Iterable[Stored], now: datetime
) -> list[Alert]:
    """Announce new records and raise the rules that fire on arrival (same transaction)."""
    stored = list(stored)
    raised: list[Alert] = []
    kinds = {item.kind for item in stored}
    for kind in sorted(kinds & {"arrival", "question", "rating"}):
        count = sum(item.kind == kind for item in stored)
        publish(kind, {"kiosk_id": str(kiosk.id), "count": count}, session=session)
    for item in stored:
        if item.kind == "question" and item.emergency:
            alert = raise_alert(
                session=session,
                settings=settings,
                kind=AlertKind.EMERGENCY_QUESTION,
                dedupe_key=f"question:{item.record_id}",
                details={"kiosk": kiosk.name, "kiosk_id": str(kiosk.id)},
                now=now,
            )
            if alert is not None:
                raised.append(alert)
    rated = [item.at for item in stored if item.kind == "rating" and item.at is not None]
    if rated:
        raised.extend(check_unhappy(session=session, settings=settings, now=now, new=rated))
    return raised


def check_unhappy(
    *, session: Session, settings: Settings, now: datetime, new: list[datetime]
) -> list[Alert]:
    """Raise an alert for each unreported window of unhappy ratings around `new` (a few)."""
    from clinic.dashboard import queries

    raised: list[Alert] = []
    for _ in range(5):
        decision = queries.check_unhappy_alert(session=session, now=now, new=new)
        if decision is None:
            break
        alert = raise_alert(
            session=session,
            settings=settings,
            kind=AlertKind.UNHAPPY_RATINGS,
            dedupe_key=f"unhappy:{decision.window_end.isoformat()}",
            details={
                "window_start": decision.window_start.isoformat(),
                "window_end": decision.window_end.isoformat(),
                "responses": decision.responses,
                "unhappy": decision.unhappy,
            },
            # A kiosk clock a little ahead (within clock_skew_seconds) may end a window
            # in the future: the alert is raised now, not later.
            now=min(decision.window_end, now),
        )
        if alert is None:
            break
        raised.append(alert)
    return raised


# ---------------------------------------------------------------------------------------
# On a timer
# ---------------------------------------------------------------------------------------
def run_checks(*, session: Session, settings: Settings, now: datetime) -> list[Alert]:
    """Run the time-based rules once; return the alerts raised."""
    raised: list[Alert] = []
    oldest = now - LOOKBACK
    # Read at every run: an admin may have changed them in another process or host.
    rules = alert_settings.effective(session=session, settings=settings)
    # Same shape as the patient-waiting and kiosk-silent blocks below: one block a rule, as each
    # rule's query, dedupe key and details differ.
    minutes = rules.question_unanswered
    if minutes:
        questions = session.execute(
            select(Question.id, Question.asked_at, Kiosk.name)
            .outerjoin(Kiosk, Kiosk.id == Question.kiosk_id)
            .where(
                Question.done.is_(False),
                Question.answered_at.is_(None),
                Question.asked_at <= now - timedelta(minutes=minutes),
                Question.asked_at > oldest,
            )
            .order_by(Question.asked_at)
            .limit(MAX_PER_RULE)
        ).all()
        for qid, asked_at, kiosk_name in questions:
            alert = raise_alert(
                session=session,
                settings=settings,
                kind=AlertKind.QUESTION_UNANSWERED,
                dedupe_key=f"unanswered:{qid}",
                details={"kiosk": kiosk_name, "minutes": minutes, "since": asked_at.isoformat()},
                now=now,
            )
            if alert is not None:
                raised.append(alert)
    # Same shape as the question and kiosk-silent blocks beside it: one block a rule, as each
    # rule's query, dedupe key and details differ.
    minutes = rules.patient_waiting
    if minutes:
        arrivals = session.execute(
            select(Arrival.id, Arrival.queue_number, Arrival.arrived_at)
            .where(
                Arrival.status == ArrivalStatus.WAITING,
                Arrival.arrived_at <= now - timedelta(minutes=minutes),
                Arrival.arrived_at > oldest,
            )
            .order_by(Arrival.arrived_at)
            .limit(MAX_PER_RULE)
        ).all()
        for aid, number, arrived_at in arrivals:
            alert = raise_alert(
                session=session,
                settings=settings,
                kind=AlertKind.PATIENT_WAITING,
                dedupe_key=f"waiting:{aid}",
                details={
                    "queue_number": number,
                    "minutes": minutes,
                    "since": arrived_at.isoformat(),
                },
                now=now,
            )
            if alert is not None:
                raised.append(alert)
    # Same shape as the question and patient-waiting blocks above: one block a rule, as each
    # rule's query, dedupe key and details differ.
    minutes = rules.kiosk_silent
    if minutes:
        kiosks = session.execute(
            select(Kiosk.id, Kiosk.name, Kiosk.last_seen_at)
            .where(
                Kiosk.revoked_at.is_(None),
                Kiosk.last_seen_at.is_not(None),
                Kiosk.last_seen_at <= now - timedelta(minutes=minutes),
                Kiosk.last_seen_at > oldest,
            )
            .limit(MAX_PER_RULE)
        ).all()
        for kid, name, last_seen in kiosks:
            if last_seen is None:
                continue
            # One alert per silence: the kiosk coming back and falling silent again is new.
            alert = raise_alert(
                session=session,
                settings=settings,
                kind=AlertKind.KIOSK_SILENT,
                dedupe_key=f"silent:{kid}:{last_seen.isoformat()}"[:120],
                details={
                    "kiosk": name,
                    "kiosk_id": str(kid),
                    "minutes": minutes,
                    "since": last_seen.isoformat(),
                },
                now=now,
            )
            if alert is not None:
                raised.append(alert)
    return raised


def claim_run(db: Database, *, now: datetime, every: timedelta) -> bool:
    """Claim this period's check for this process; False if another process has it."""
    return maintenance.claim_run(db, name=CHECK_JOB, now=now, every=every)


def check_once(db: Database, *, now: datetime | None = None, force: bool = False) -> int:
    """Run the timed rules (if this process wins the period) and send e-mails; return raised."""
    now = now or utcnow()
    settings = db.settings
    raised = 0
    # A little under the period, so a loop that wakes slightly early still claims its turn.
    every = timedelta(seconds=max(1.0, settings.alert_check_seconds * 0.8))
    if force or claim_run(db, now=now, every=every):
        with db.writer.begin() as session:
            raised = len(run_checks(session=session, settings=settings, now=now))
        # The feedback charts' per-day sums, kept current here rather than in page views.
        from clinic.dashboard import rollup

        rollup.refresh_all(db=db, tz=settings.tz, now=now)
        # The wait estimates' score for the arrivals page: a replay of up to 200 arrivals,
        # so every few minutes rather than at every check.
        with db.writer.begin() as session:
            if waits.accuracy_due(session, now):
                pace = queue.current_pace(session=session, settings=settings, now=now)
                waits.store_accuracy(
                    session=session,
                    now=now,
                    tz=settings.tz,
                    fallback_minutes=pace.minutes_per_patient,
                )
        if settings.shared_limits:
            from clinic.limits import prune

            prune(db.engine)
    send_pending_emails(db, now=now)
    return raised


async def checker_loop(db: Database, every_seconds: int) -> None:
    """Run `check_once` every `every_seconds` in a worker thread; never raise."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await asyncio.to_thread(check_once, db)
        except Exception as exc:  # noqa: BLE001 - retried at the next tick
            log.error("alert check failed: %s", describe_exception(exc))


# ---------------------------------------------------------------------------------------
# E-mail
# ---------------------------------------------------------------------------------------
def email_text(alert: Alert, *, settings: Settings) -> tuple[str, str]:
    """Return (subject, body) for an alert: no names, no question text, no reasons."""
    kind = AlertKind(alert.kind)
    details = alert.details or {}
    kiosk = details.get("kiosk") or "a kiosk"
    dashboard = settings.public_base_url.rstrip("/") + "/dashboard/arrivals"
    lines = {
        AlertKind.EMERGENCY_QUESTION: f"New emergency-word question at kiosk {kiosk}.",
        AlertKind.QUESTION_UNANSWERED: (
            f"A question from kiosk {kiosk} is unanswered after {details.get('minutes')} minutes."
        ),
        AlertKind.PATIENT_WAITING: (
            f"Patient number {details.get('queue_number')} has waited over "
            f"{details.get('minutes')} minutes."
        ),
        AlertKind.KIOSK_SILENT: (
            f"Kiosk {kiosk} has not been heard from for over {details.get('minutes')} minutes."
        ),
        AlertKind.UNHAPPY_RATINGS: (
            f"{details.get('unhappy')} of {details.get('responses')} recent ratings were unhappy."
        ),
    }
    subject = f"[Clinic alert] {TITLES[kind]}"
    body = f"{lines[kind]}\n\nOpen the dashboard: {dashboard}\n"
    return subject, body


def send_email(settings: Settings, subject: str, body: str) -> None:
    """Send one message through the configured SMTP server (STARTTLS, TLS or plain)."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.alert_email_from
    message["To"] = ", ".join(settings.alert_email_to)
    message.set_content(body)
    context = ssl.create_default_context(cafile=settings.smtp_ca_file or None)
    timeout = settings.smtp_timeout_seconds
    client: smtplib.SMTP
    if settings.smtp_security == "tls":
        client = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=timeout, context=context
        )
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    with client:
        if settings.smtp_security == "starttls":
            client.starttls(context=context)
        if settings.smtp_username:
            client.login(settings.smtp_username, settings.smtp_password)
        client.send_message(message)


def _claim_email(db: Database, alert_id: int, state: str) -> bool:
    with db.writer.begin() as session:
        result = session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.email_state == state)
            .values(email_state=AlertEmail.SENDING)
        )
        return getattr(result, "rowcount", 0) == 1


def send_pending_emails(db: Database, *, now: datetime | None = None) -> int:
    """Send every due pending alert e-mail once across processes; return how many were sent."""
    now = now or utcnow()
    settings = db.settings
    with db.reader() as session:
        due = session.scalars(
            select(Alert)
            .where(Alert.email_state == AlertEmail.PENDING)
            .order_by(Alert.id)
            .limit(20)
        ).all()
    sent = 0
    repeat = timedelta(minutes=settings.alert_email_repeat_minutes)
    for alert in due:
        if alert.email_next_attempt_at is not None and alert.email_next_attempt_at > now:
            continue
        if not _claim_email(db, alert.id, AlertEmail.PENDING):
            continue  # another process has it
        if alert.kind != AlertKind.EMERGENCY_QUESTION and repeat:
            with db.reader() as session:
                recent = session.scalar(
                    select(Alert.id).where(
                        Alert.kind == alert.kind,
                        Alert.email_state == AlertEmail.SENT,
                        Alert.emailed_at > now - repeat,
                    )
                )
            if recent is not None:
                _finish(db, alert.id, AlertEmail.SUPPRESSED, now=now)
                continue
        subject, body = email_text(alert, settings=settings)
        try:
            send_email(settings, subject, body)
        except (OSError, smtplib.SMTPException) as exc:
            attempts = alert.email_attempts + 1
            give_up = attempts >= EMAIL_MAX_ATTEMPTS
            log.warning(
                "alert %s e-mail failed (attempt %d%s): %s",
                alert.id,
                attempts,
                ", giving up" if give_up else "",
                describe_exception(exc),
            )
            with db.writer.begin() as session:
                session.execute(
                    update(Alert)
                    .where(Alert.id == alert.id)
                    .values(
                        email_state=AlertEmail.FAILED if give_up else AlertEmail.PENDING,
                        email_attempts=attempts,
                        email_next_attempt_at=now + EMAIL_RETRY,
                    )
                )
            continue
        _finish(db, alert.id, AlertEmail.SENT, now=now)
        sent += 1
    return sent


def _finish(db: Database, alert_id: int, state: str, *, now: datetime) -> None:
    with db.writer.begin() as session:
        session.execute(
            update(Alert)
            .where(Alert.id == alert_id)
            .values(email_state=state, emailed_at=now if state == AlertEmail.SENT else None)
        )


def send_soon(db: Database) -> None:
    """Send pending e-mails now in a background thread (an emergency should not wait)."""
    if not email_configured(db.settings):
        return

    def run() -> None:
        try:
            send_pending_emails(db)
        except Exception as exc:  # noqa: BLE001 - the checker retries
            log.error("alert e-mail failed: %s", describe_exception(exc))

    threading.Thread(target=run, name="alert-email", daemon=True).start()
