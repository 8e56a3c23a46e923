"""The staff dashboard: arrivals, questions, feedback (charts, alerts), kiosks, admin."""

from fastapi import APIRouter

from clinic import display
from clinic.dashboard import account, admin, live, queue_ops, routes

router = APIRouter(include_in_schema=False)
router.include_router(routes.router)
router.include_router(admin.router)
router.include_router(account.router)
router.include_router(queue_ops.router)
router.include_router(display.router)
router.include_router(live.router)

__all__ = ["router"]
