"""Walk-ins: a patient without a matching appointment registers and gets a queue number."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk import validation
from kiosk.core import KioskCore, new_record_id
from kiosk.facade import CheckInReceipt
from kiosk.models import WalkIn
from kiosk.state import StateKey, get_state, set_state
from kiosk.waiting import WaitingRoom, arrival_receipt
from sync.protocol import WalkInBody, new_follow_up_token, normalize_last_name


class WalkInDesk:
    """Registers walk-ins (one per person and clinic day)."""

    def __init__(self, core: KioskCore, waiting: WaitingRoom) -> None:
        self.core = core
        self.waiting = waiting

    # Same signature as KioskFacade.register_walk_in (kiosk/facade.py), which Kiosk forwards here.
    def register_walk_in(
        self,
        first_name: str,
        last_name: str,
        date_of_birth: date,
        reason: str,
        phone: str | None,
        language: str,
        interpreter_language: str | None = None,
    ) -> CheckInReceipt:
        """Register a patient without a matching appointment and give them a queue number."""
        core = self.core
        interpreter = validation.check_interpreter_language(interpreter_language)
        first = validation.clean_name(first_name, "first_name")
        last = validation.clean_name(last_name, "last_name")
        dob = validation.check_date_of_birth(date_of_birth, today=core.today())
        why = validation.clean_text(
            reason, max_chars=validation.MAX_REASON_CHARS, field_name="reason"
        )
        clean_phone = validation.clean_phone(phone)
        lang = core.language(language)
        start, end = core.today_bounds()

        def action(session: Session) -> CheckInReceipt:
            now = core.now()
            server_url = core.server_url(session)
            identity = _walk_in_identity(session, first, last, dob)
            earlier = session.scalar(
                select(WalkIn).where(
                    WalkIn.identity_key == identity,
                    WalkIn.arrived_at >= start,
                    WalkIn.arrived_at < end,
                )
            )
            if earlier is not None:  # registered already today: same receipt, nothing new
                return arrival_receipt(earlier, server_url, already=True)
            wait, wait_high = self.waiting.estimate_range(session, now)
            row = WalkIn(
                id=new_record_id(),
                identity_key=identity,
                arrived_at=now,
                queue_number=self.waiting.next_queue_number(session),
                estimated_wait_minutes=wait,
                follow_up_token=new_follow_up_token(),
                language=lang,
            )
            # Same closing steps as CheckInDesk.check_in (kiosk/checkin.py): kept apart because
            # the row and body types differ (WalkIn, WalkInBody here; CheckIn there).
            body = WalkInBody(
                first_name=first,
                last_name=last,
                date_of_birth=dob,
                reason=why,
                phone=clean_phone,
                arrived_at=now,
                queue_number=row.queue_number,
                follow_up_token=row.follow_up_token,
                language=lang,
                interpreter_language=interpreter,
            )
            core.record(session, row, body, now=now)
            return arrival_receipt(row, server_url, already=False, wait_high=wait_high)

        return core.write(action)


def _walk_in_identity(session: Session, first: str, last: str, dob: date) -> str:
    """Return the keyed hash identifying a walk-in (key made on first use, kept local)."""
    key_hex = get_state(StateKey.LOCAL_KEY, session=session)
    if not key_hex:
        key_hex = secrets.token_hex(32)
        set_state(StateKey.LOCAL_KEY, key_hex, session=session)
    message = "|".join(
        ("walk_in", normalize_last_name(first), normalize_last_name(last), dob.isoformat())
    )
    return hmac.new(bytes.fromhex(key_hex), message.encode(), hashlib.sha256).hexdigest()
