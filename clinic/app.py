"""Application factory: `create_app(settings)` wires settings, database, routers, limits.

Routers of other areas are included when importable: `clinic.dashboard` and
`clinic.followup` (a package or module exposing `router`, an APIRouter). Static files in
clinic/static are served under /static.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, DBAPIError, OperationalError, StatementError
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from clinic import dashboard, followup, live
from clinic.alerting import checker_loop
from clinic.config import Settings
from clinic.db import Database
from clinic.deps import PASSWORD_CHANGE_PATH, NotAuthenticated, PasswordChangeRequired
from clinic.ehr import admin as ehr_admin
from clinic.ehr import runtime as ehr_runtime
from clinic.kiosks import PullCache
from clinic.limits import SharedFirstSeen, limits_engine, make_limiter
from clinic.logsafe import describe_exception, install_log_redaction
from clinic.routers import admin, auth, health, kiosk
from sync.protocol import INGEST_PATH, MAX_BATCH_RECORDS, MAX_BODY_BYTES

log = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_SECONDS = 5
STATIC_DIR = Path(__file__).parent / "static"


#: One year, the minimum browsers' preload lists accept.
HSTS_VALUE = "max-age=31536000; includeSubDomains"


class SecurityHeaders:
    """Add nosniff (and HSTS for an https public URL) to every response, errors included."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        extra = [(b"x-content-type-options", b"nosniff")]
        if hsts:
            extra.append((b"strict-transport-security", HSTS_VALUE.encode()))
        self.extra = extra

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                headers = list(message.get("headers", []))
                headers.extend(item for item in self.extra if item[0] not in names)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ClinicApp(FastAPI):
    """FastAPI whose outermost layers set the client address and the security headers.

    They wrap even Starlette's error middleware, so a 500 carries nosniff too, and the
    throttles see the address X-Forwarded-For gives only when a trusted proxy sent it.
    """

    def build_middleware_stack(self) -> ASGIApp:
        settings: Settings = self.state.settings
        inner = super().build_middleware_stack()
        # No trusted proxy: the middleware trusts nobody, so forwarded headers are ignored.
        proxied: Any = ProxyHeadersMiddleware(
            inner,  # type: ignore[arg-type]
            trusted_hosts=list(settings.trusted_proxies),
        )
        return SecurityHeaders(proxied, hsts=settings.https)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the clinic server application."""
    settings = settings or Settings.from_env()
    install_log_redaction()
    db = Database(settings)
    docs = settings.api_docs_enabled

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        install_log_redaction()  # again: uvicorn may have set up its handlers since
        tasks: list[asyncio.Task[None]] = []
        if settings.purge_check_seconds > 0:
            from clinic.retention import purge_loop

            tasks.append(asyncio.create_task(purge_loop(db, settings.purge_check_seconds)))
        hub.bind(asyncio.get_running_loop())
        if settings.live_via_postgres:
            ready = asyncio.Event()
            tasks.append(
                asyncio.create_task(live.listen_postgres(settings.database_url, hub, ready=ready))
            )
            # Pages opened right after start-up should not miss the first events.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), timeout=5)
        if settings.alert_check_seconds > 0:
            tasks.append(asyncio.create_task(checker_loop(db, settings.alert_check_seconds)))
        try:
            with ehr_runtime.running(_app):
                yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            db.dispose()
            if limits_db is not db.engine:
                limits_db.dispose()

    app = ClinicApp(
        title="Clinic server",
        # Off in production: the schema maps every route for a stranger on the network.
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
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
    app.include_router(ehr_admin.router)
    # Shared by every process and host on PostgreSQL (clinic/limits.py), per process on SQLite.
    shared = settings.shared_limits
    limits_db = limits_engine(settings.database_url) if shared else db.engine
    app.state.kiosk_limiter = make_limiter(
        limits_db,
        shared=shared,
        name="kiosk",
        per_minute=settings.kiosk_requests_per_minute,
        burst=settings.kiosk_burst,
    )
    app.state.pair_limiter = make_limiter(
        limits_db, shared=shared, name="pair", per_minute=settings.pair_requests_per_minute
    )
    app.state.follow_up_limiter = make_limiter(
        limits_db,
        shared=shared,
        name="follow_up",
        per_minute=settings.follow_up_requests_per_minute,
    )
    # When an unknown follow-up token was first asked for (its "recording" grace hour).
    app.state.first_seen = SharedFirstSeen(limits_db) if shared else None
    hub = live.hub_for(settings.database_url)
    app.state.live_hub = hub
    app.state.pull_cache = PullCache()

    @app.exception_handler(NotAuthenticated)
    async def _not_authenticated(request: Request, _exc: NotAuthenticated) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"detail": "not authenticated"}, status_code=status.HTTP_401_UNAUTHORIZED
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(
            f"/login?next={_quote(target)}", status_code=status.HTTP_303_SEE_OTHER
        )

    @app.exception_handler(PasswordChangeRequired)
    async def _password_change_required(request: Request, _exc: PasswordChangeRequired) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"detail": "password change required"}, status_code=status.HTTP_403_FORBIDDEN
            )
        return RedirectResponse(PASSWORD_CHANGE_PATH, status_code=status.HTTP_303_SEE_OTHER)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        # The request's own values are not echoed back: they may hold patient data, or a
        # lone surrogate that cannot even be encoded into the answer.
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
        detail = [
            {"loc": list(error.get("loc", ())), "msg": error.get("msg"), "type": error.get("type")}
            for error in exc.errors()
        ]
        return JSONResponse(
            {"detail": _storable(detail)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
        )

    @app.exception_handler(DataError)
    async def _refused_value(request: Request, exc: DataError) -> Response:
        # A value the database cannot hold (NUL, out of a column's range): the request's fault.
        return _refused(request, exc, "value", "a value in the request cannot be stored")

    @app.exception_handler(StatementError)
    async def _statement_error(request: Request, exc: StatementError) -> Response:
        if isinstance(exc.orig, ValueError | OverflowError | UnicodeError):
            # Raised while binding the request's values (e.g. a lone surrogate in text).
            return _refused(request, exc, "value", "a value in the request cannot be stored")
        return await _unexpected(request, exc)

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> Response:
        # A number larger than the database's integers (e.g. an id of 2**63 in a path).
        return _refused(request, exc, "number", "a number in the request is out of range")

    @app.exception_handler(UnicodeError)
    async def _unicode_error(request: Request, exc: UnicodeError) -> Response:
        return _refused(request, exc, "text", "the request holds text that cannot be encoded")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Type and place only: a message or traceback can quote what a patient typed.
        log.error("unexpected error in %s: %s", _route(request), describe_exception(exc))
        return JSONResponse(
            {"detail": "internal error"}, status_code=status.HTTP_500_INTERNAL_SERVER_ERROR
        )

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
    app.include_router(dashboard.router)
    app.include_router(followup.router)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _wants_json(request: Request) -> bool:
    """Say whether a refusal goes out as JSON (API paths, clients not asking for HTML)."""
    wants_html = "text/html" in request.headers.get("accept", "")
    return request.url.path.startswith("/api/") or not wants_html


def _refused(request: Request, exc: BaseException, what: str, detail: str) -> Response:
    """Log a request refused for one of its values (type and place only); answer 422."""
    log.info("refused %s in %s: %s", what, _route(request), describe_exception(exc))
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _route(request: Request) -> str:
    """Return a request's method and route template (the URL may hold a token)."""
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', '?')}"


def _storable(value: object) -> object:
    """Return JSON data with any unencodable text replaced, so the answer can be sent."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [_storable(item) for item in value]
    if isinstance(value, dict):
        return {str(_storable(k)): _storable(v) for k, v in value.items()}
    return value


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")
