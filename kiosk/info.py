"""What the screens show of the clinic: name, phone, languages, FAQ, idle timing."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.core import KioskCore
from kiosk.facade import ClinicInfo, FaqItem
from kiosk.models import ClinicRow, FaqRow
from kiosk.state import StateKey, get_int, get_state


class InfoDesk:
    """Reads clinic details: pulled from the server, set by staff, else configured."""

    def __init__(self, core: KioskCore) -> None:
        self.core = core

    def clinic_info(self) -> ClinicInfo:
        """Return the clinic's name, logo, phone and languages."""
        settings = self.core.settings
        with self.core.db.read_session() as session:
            clinic = session.get(ClinicRow, 1)
            default_language = get_state(StateKey.DEFAULT_LANGUAGE, session=session)
        languages = self.core.languages()
        default = default_language or (
            clinic.default_language if clinic else settings.default_language
        )
        if default not in languages:
            default = languages[0]
        return ClinicInfo(
            name=clinic.name if clinic else settings.clinic_name,
            logo_path=str(settings.logo_path) if settings.logo_path else None,
            phone=(clinic.phone if clinic else None) or settings.clinic_phone,
            languages=languages,
            default_language=default,
        )

    def faq(self, language: str) -> list[FaqItem]:
        """Return the FAQ entries in `language` (the default language's if none)."""
        with self.core.db.read_session() as session:
            rows = _faq_rows(session, language)
            if not rows:
                rows = _faq_rows(session, self.clinic_info().default_language)
            return [FaqItem(id=row.id, question=row.question, answer=row.answer) for row in rows]

    def idle_timeout_seconds(self) -> int:
        """Return the inactivity before the "Still there?" countdown ends the session."""
        with self.core.db.read_session() as session:
            value = get_int(StateKey.IDLE_TIMEOUT_SECONDS, session=session)
        return value if value is not None else self.core.settings.idle_timeout_seconds

    def idle_countdown_seconds(self) -> int:
        """Return the length of the "Still there?" countdown (it follows the timeout, so a
        short timeout set by staff never shortens the warning)."""
        return self.core.settings.idle_countdown_seconds


def _faq_rows(session: Session, language: str) -> list[FaqRow]:
    return list(
        session.scalars(
            select(FaqRow).where(FaqRow.language == language).order_by(FaqRow.position, FaqRow.id)
        )
    )
