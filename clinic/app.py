"""Application factory: `create_app(settings)` wires settings, database, routers, limits.

Routers of other areas are included when importable: `clinic.dashboard` and
`clinic.followup` (a package or module exposing `router`, an APIRouter). Static files in
clinic/static are served under /static.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType

from fastapi import APIRouter, FastAPI, Request, status
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError, OperationalError

from clinic.config import Settings
from clinic.db import Database
from clinic.deps import NotAuthenticated
from clinic.ehr import runtime as ehr_runtime
from clinic.routers import admin, auth, health, kiosk
from clinic.security import RateLimiter
from sync.protocol import INGEST_PATH, MAX_BATCH_RECORDS, MAX_BODY_BYTES

log = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_SECONDS = 5
OPTIONAL_ROUTERS = ("clinic.dashboard", "clinic.followup")
STATIC_DIR = Path(__file__).parent / "static"


def _optional_router(module_name: str) -> APIRouter | None:
    """Return `router` of an optional area, or None when that area is not there yet."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    router = getattr(module, "router", None)
    if isinstance(router, ModuleType):
        router = getattr(router, "router", None)
    if router is None:
        submodule = importlib.import_module(module_name + ".router")
        router = submodule.router
    if not isinstance(router, APIRouter):
        raise TypeError(f"{module_name}.router is not an APIRouter")
    return router


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the clinic server application."""
    settings = settings or Settings.from_env()
    db = Database(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        with ehr_runtime.running(_app):
            yield
        db.dispose()

    app = FastAPI(
        title="Clinic server",
        version="1",
        summary="Kiosk API (pairing, ingest, pull, heartbeat), staff dashboard, follow-up pages.",
        lifespan=lifespan,
        # Bodies over the protocol's limit get 413 before they are read (CSV import: more).
        max_body_size=MAX_BODY_BYTES,
        openapi_tags=[
            {"name": "kiosk", "description": "Kiosk API (see sync/protocol.py)"},
            {"name": "admin", "description": "Admin API (staff session + CSRF header)"},
        ],
    )
    app.state.settings = settings
    app.state.db = db
    ehr_runtime.install(app)
    app.state.kiosk_limiter = RateLimiter(settings.kiosk_requests_per_minute, settings.kiosk_burst)
    app.state.pair_limiter = RateLimiter(settings.pair_requests_per_minute)
    app.state.follow_up_limiter = RateLimiter(settings.follow_up_requests_per_minute)

    @app.exception_handler(NotAuthenticated)
    async def _not_authenticated(request: Request, _exc: NotAuthenticated) -> Response:
        wants_html = "text/html" in request.headers.get("accept", "")
        if request.url.path.startswith("/api/") or not wants_html:
            return JSONResponse(
                {"detail": "not authenticated"}, status_code=status.HTTP_401_UNAUTHORIZED
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(
            f"/login?next={_quote(target)}", status_code=status.HTTP_303_SEE_OTHER
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        # Protocol: a batch over MAX_BATCH_RECORDS is 413 for the whole request, not 422.
        if request.url.path == INGEST_PATH:
            for error in exc.errors():
                if error.get("type") == "too_long" and tuple(error.get("loc", ())) == (
                    "body",
                    "records",
                ):
                    return JSONResponse(
                        {"detail": f"batch larger than {MAX_BATCH_RECORDS} records"},
                        status_code=status.HTTP_413_CONTENT_TOO_LARGE,
                    )
        return await request_validation_exception_handler(request, exc)

    @app.exception_handler(OperationalError)
    async def _database_unavailable(request: Request, exc: OperationalError) -> Response:
        # The database is down or locked for too long: tell clients to come back (kiosks
        # retry 503 with Retry-After) instead of a bare 500.
        log.warning("database unavailable: %s", type(exc.orig).__name__)
        return JSONResponse(
            {"detail": "database unavailable, try again shortly"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError) -> Response:
        # The driver's message can quote the stored values (PostgreSQL: "Failing row
        # contains (...)"), and the URL can hold a follow-up token: log neither, only the
        # route's template and the error's type and SQLSTATE.
        route = request.scope.get("route")
        log.error(
            "database error in %s %s: %s (SQLSTATE %s)",
            request.method,
            getattr(route, "path", "?"),
            type(exc.orig).__name__,
            getattr(exc.orig, "sqlstate", None) or "-",
        )
        return JSONResponse(
            {"detail": "internal error"}, status_code=status.HTTP_500_INTERNAL_SERVER_ERROR
        )

    app.include_router(health.router)
    app.include_router(kiosk.router)
    app.include_router(auth.router)
    app.include_router(admin.router)
    for name in OPTIONAL_ROUTERS:
        router = _optional_router(name)
        if router is not None:
            app.include_router(router)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")
