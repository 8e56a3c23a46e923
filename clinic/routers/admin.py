"""Admin API (JSON): pairing codes, kiosk revocation, appointment CSV import.

Needs an admin session cookie and the session's CSRF token in X-CSRF-Token (or a
csrf_token form field for the CSV upload form).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict

from clinic.appointments import CsvFormatError, import_appointments_csv
from clinic.audit import audit
from clinic.deps import CsrfProtected, CurrentAdmin, SessionDep, SettingsDep
from clinic.kiosks import create_pairing_code, revoke_kiosk

router = APIRouter(prefix="/api/admin", tags=["admin"])

IMPORT_PATH = "/api/admin/appointments/import"
#: Largest appointment CSV accepted (a day of a large clinic is well under 1 MiB).
MAX_CSV_BYTES = 5 * 1024 * 1024


class PairingCodeOut(BaseModel):
    code: str
    expires_at: datetime


class KioskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    revoked_at: datetime | None


class RowErrorOut(BaseModel):
    row: int
    column: str | None
    message: str


class ImportReportOut(BaseModel):
    created: int
    updated: int
    errors: list[RowErrorOut]


@router.post("/pairing-codes", status_code=status.HTTP_201_CREATED, response_model=PairingCodeOut)
def new_pairing_code(
    session: SessionDep, settings: SettingsDep, admin: CurrentAdmin, _csrf: CsrfProtected
) -> PairingCodeOut:
    """Create a one-time, short-lived pairing code (shown once)."""
    code, row = create_pairing_code(session=session, settings=settings, created_by=admin)
    audit(session=session, action="pairing_code.create", user=admin, target=f"pairing:{row.id}")
    return PairingCodeOut(code=code, expires_at=row.expires_at)


@router.post("/kiosks/{kiosk_id}/revoke", response_model=KioskOut)
def revoke(
    kiosk_id: uuid.UUID, session: SessionDep, admin: CurrentAdmin, _csrf: CsrfProtected
) -> KioskOut:
    """Revoke a kiosk: its token stops working at once."""
    kiosk = revoke_kiosk(session=session, kiosk_id=kiosk_id)
    if kiosk is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such kiosk")
    audit(session=session, action="kiosk.revoke", user=admin, target=f"kiosk:{kiosk.id}")
    return KioskOut.model_validate(kiosk)


@router.post(
    "/appointments/import",
    response_model=ImportReportOut,
    max_body_size=MAX_CSV_BYTES,
    openapi_extra={
        "requestBody": {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "required": True,
        }
    },
)
async def import_appointments(
    request: Request,
    settings: SettingsDep,
    admin: CurrentAdmin,
    _csrf: CsrfProtected,
    session: SessionDep,
) -> ImportReportOut:
    """Import appointments from CSV (text/csv body, or a multipart `file` field)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "missing file field")
        data = await upload.read()
    else:
        data = await request.body()
    try:
        report = import_appointments_csv(session=session, data=data, tz=settings.tz)
    except CsvFormatError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    audit(
        session=session,
        action="appointments.import",
        user=admin,
        details=report.audit_details(),
    )
    return ImportReportOut(
        created=report.created,
        updated=report.updated,
        errors=[RowErrorOut(row=e.row, column=e.column, message=e.message) for e in report.errors],
    )
