"""The staff dashboard: arrivals, questions, feedback (charts, alerts), kiosks, admin."""

from fastapi import APIRouter

from clinic.dashboard import admin, routes

# isort: split
# After admin: importing web first would close the web -> followup -> web import cycle early.
from clinic.dashboard import account, live

router = APIRouter(include_in_schema=False)
router.include_router(routes.router)
router.include_router(admin.router)
router.include_router(account.router)
router.include_router(live.router)

__all__ = ["router"]
