"""The staff dashboard: arrivals, questions, feedback (charts, alerts), kiosks, admin."""

from fastapi import APIRouter

from clinic.dashboard import account, admin, routes

router = APIRouter(include_in_schema=False)
router.include_router(routes.router)
router.include_router(admin.router)
router.include_router(account.router)

__all__ = ["router"]
