"""What every capability of the kiosk core shares: settings, database, clock, one write path.

`KioskCore.write(action)` runs one BEGIN IMMEDIATE transaction and returns after COMMIT
(then the commit listeners run); inside it, `record(session, row, body, now=)` adds a
domain row and its outbox record under the same UUID. Every patient flow (check-in,
walk-in, contact update, question, rating, rating details) saves through these two.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from kiosk import validation
from kiosk.config import KioskSettings
from kiosk.db import Database
from kiosk.facade import N_, InvalidInput, KioskError, StorageError
from kiosk.models import CheckIn, ClinicRow, ContactUpdate, Question, Rating, RatingDetail, WalkIn
from kiosk.state import StateKey, get_state
from sync import outbox
from sync.protocol import (
    BODY_MODELS,
    CheckInBody,
    ContactUpdateBody,
    QuestionBody,
    RatingBody,
    RatingDetailBody,
    RecordError,
    WalkInBody,
    dump_body,
)
from sync.rules import day_bounds, utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")

MSG_NOT_SAVED = N_("Sorry, this could not be saved. Please see the front desk.")
MSG_UNKNOWN_VISIT = N_("We could not find this visit.")

#: A domain row that goes to the server: its id is its outbox record's UUID.
RecordRow = CheckIn | WalkIn | ContactUpdate | Question | Rating | RatingDetail
#: The wire body of such a row; its type names the record kind (sync.protocol.BODY_MODELS).
RecordBody = (
    CheckInBody | WalkInBody | ContactUpdateBody | QuestionBody | RatingBody | RatingDetailBody
)
_KIND_OF_BODY = {model: kind for kind, model in BODY_MODELS.items()}


def new_record_id() -> str:
    """Return a fresh record UUID (the domain row's id and its outbox record's id)."""
    return str(uuid.uuid4())


class KioskCore:
    """The settings, database and clock the capabilities share, and their one write path."""

    def __init__(
        self,
        settings: KioskSettings,
        database: Database,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.db = database
        #: The kiosk's one clock (UTC, aware); replaceable, e.g. by a test of clock skew.
        self.clock = clock
        self._commit_listeners: list[Callable[[], None]] = []

    # --- time --------------------------------------------------------------------------
    def now(self) -> datetime:
        """Return the current time (UTC, aware) from the kiosk's clock."""
        return self.clock()

    def today(self) -> date:
        """Return the clinic-local date."""
        return self.now().astimezone(self.settings.tz).date()

    def today_bounds(self) -> tuple[datetime, datetime]:
        """Return the start and end (UTC) of the clinic-local day."""
        return day_bounds(self.today(), self.settings.tz)

    # --- writing -----------------------------------------------------------------------
    def add_commit_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after each committed write (e.g. worker.nudge)."""
        self._commit_listeners.append(listener)

    def write(self, action: Callable[[Session], T]) -> T:
        """Run `action` in one BEGIN IMMEDIATE transaction; return after COMMIT."""
        try:
            with self.db.write() as session:
                result = action(session)
        except KioskError:
            raise
        except (SQLAlchemyError, sqlite3.Error, RecordError, ValidationError) as exc:
            log.error("kiosk write failed: %s", type(exc).__name__)  # no patient data
            raise StorageError(MSG_NOT_SAVED) from exc
        for listener in self._commit_listeners:
            try:
                listener()
            except Exception:  # a listener must never undo a committed record
                log.exception("commit listener failed")
        return result

    @staticmethod
    def record(session: Session, row: RecordRow, body: RecordBody, *, now: datetime) -> None:
        """Add a domain row and its outbox record (same UUID) to the caller's transaction."""
        session.add(row)
        outbox.enqueue(
            _KIND_OF_BODY[type(body)],
            dump_body(body),
            session=session,
            record_id=uuid.UUID(row.id),
            now=now,
        )

    # --- shared reads ------------------------------------------------------------------
    def language(self, language: str) -> str:
        """Return `language` if the kiosk offers it, else raise InvalidInput."""
        if language in self.settings.languages:  # the usual case needs no database read
            return language
        if language not in self.languages():
            raise InvalidInput(validation.MSG_LANGUAGE, "language")
        return language

    def languages(self) -> list[str]:
        """Return the clinic's languages, then the configured ones (no repeats)."""
        with self.db.read_session() as session:
            clinic = session.get(ClinicRow, 1)
            if clinic is not None and clinic.languages:
                return list(dict.fromkeys([*clinic.languages, *self.settings.languages]))
        return list(self.settings.languages)

    def server_url(self, session: Session) -> str:
        """Return the clinic server's base URL (set by staff or pairing, else configured)."""
        return get_state(StateKey.SERVER_URL, session=session) or self.settings.server_url
