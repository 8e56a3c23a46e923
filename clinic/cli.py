"""Admin command line: `clinic-server <command>` (settings from CLINIC_* / CLINIC_CONFIG)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import select

from clinic.config import Settings
from clinic.db import Database


def _settings() -> Settings:
    return Settings.from_env()


def _database(settings: Settings) -> Database:
    return Database(settings)


WORKER_HEALTHCHECK_SECONDS = 30
GRACEFUL_SHUTDOWN_SECONDS = 10


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the server with uvicorn."""
    import uvicorn

    settings = _settings()  # fail fast on bad settings, before forking workers
    if args.migrate:
        from clinic.db import migrate

        migrate(settings.database_url)
    from clinic.ops import check

    report = check(settings)
    if not report.ok:
        for problem in report.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    uvicorn.run(
        "clinic.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        # The app itself believes X-Forwarded-* only from CLINIC_TRUSTED_PROXIES.
        proxy_headers=False,
        log_level=args.log_level,
        access_log=args.access_log,
        # A worker busy with a slow request (or a loaded host starting one) must not be
        # taken for hung and killed after uvicorn's default 5 s.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        # Open live streams (dashboard pages) would otherwise hold a stop for minutes.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Upgrade the database schema to the newest revision."""
    from clinic.db import migrate

    settings = _settings()
    migrate(settings.database_url, args.revision)
    print(f"database at revision {args.revision}")
    return 0


def cmd_check(_args: argparse.Namespace) -> int:
    """Validate the settings and the database (reachable, at the newest revision)."""
    from clinic.ops import check

    settings = _settings()
    report = check(settings)
    for problem in report.problems:
        print(f"error: {problem}", file=sys.stderr)
    if not report.ok:
        return 1
    print(
        f"ok: environment {settings.environment}, "
        f"{'SQLite' if settings.is_sqlite else 'PostgreSQL'} database at revision "
        f"{', '.join(report.current)} (head)"
    )
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Write a consistent backup of the database; safe while kiosks are sending."""
    from clinic.ops import OperationError, backup

    try:
        path = backup(_settings(), Path(args.path))
    except OperationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"backup written to {path} ({path.stat().st_size} bytes)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Load a backup into the configured database, then check it."""
    from clinic.ops import OperationError, check, restore

    settings = _settings()
    try:
        restore(settings, Path(args.path), force=args.force)
    except OperationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report = check(settings)
    for problem in report.problems:
        print(f"warning: {problem}", file=sys.stderr)
    print(f"restored {args.path} (revision {', '.join(report.current) or 'none'})")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise SystemExit("passwords differ")
    return first


def cmd_create_user(args: argparse.Namespace) -> int:
    """Create a staff or admin user."""
    from clinic.accounts import AccountError, create_user
    from clinic.audit import audit
    from clinic.models import StaffRole

    password = _read_password(args)
    db = _database(_settings())
    role = StaffRole.ADMIN if args.command == "create-admin" else StaffRole(args.role)
    try:
        with db.writer.begin() as session:
            user = create_user(
                session=session, username=args.username, password=password, role=role
            )
            audit(session=session, action="user.create", actor="cli", target=f"user:{user.id}")
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"created {role} {args.username}")
    return 0


def cmd_account(args: argparse.Namespace) -> int:
    """Disable, enable, unlock, reset the password/TOTP of, or end the sessions of a user."""
    from clinic import accounts
    from clinic.audit import audit

    password = _read_password(args) if getattr(args, "password_stdin", False) else None
    db = _database(_settings())
    try:
        with db.writer.begin() as session:
            user = accounts.find_user(session=session, username=args.username)
            if user is None and args.command != "unlock":
                print(f"error: no user {args.username!r}", file=sys.stderr)
                return 1
            details: dict[str, object] = {}
            if args.command == "unlock":
                details["failures_forgotten"] = accounts.unlock(
                    session=session, username=args.username
                )
                forgotten = details["failures_forgotten"]
                message = f"unlocked {args.username}: {forgotten} failed sign-ins forgotten"
            elif user is None:
                return 1
            elif args.command == "disable":
                accounts.disable_user(session=session, user=user)
                message = f"disabled {user.username}; their sessions ended"
            elif args.command == "enable":
                accounts.enable_user(session=session, user=user)
                message = f"enabled {user.username}"
            elif args.command == "end-sessions":
                details["sessions"] = accounts.end_user_sessions(session=session, user=user)
                message = f"ended {details['sessions']} session(s) of {user.username}"
            elif args.command == "reset-totp":
                accounts.remove_totp(session=session, user=user)
                message = f"two-step sign-in turned off for {user.username}"
            else:
                temporary = accounts.reset_password(session=session, user=user, password=password)
                message = (
                    f"temporary password for {user.username} (they must change it at sign-in): "
                    + (temporary if password is None else "as given")
                )
            target = f"staff:{user.id}" if user is not None else f"username:{args.username}"
            audit(
                session=session,
                action=f"staff.{args.command.replace('-', '_')}",
                actor="cli",
                target=target[:200],
                details=details or None,
            )
    except accounts.AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(message)
    return 0


def cmd_list_users(_args: argparse.Namespace) -> int:
    """List staff users with status, last sign-in and recent failed sign-ins."""
    from clinic.accounts import recent_failures
    from clinic.models import StaffUser, utcnow

    settings = _settings()
    db = _database(settings)
    with db.reader() as session:
        failures = recent_failures(session=session, settings=settings, now=utcnow())
        for u in session.scalars(select(StaffUser).order_by(StaffUser.username)):
            state = "active" if u.active else "disabled"
            seen = f"{u.last_login_at:%Y-%m-%d %H:%M} UTC" if u.last_login_at else "never"
            flags = []
            if u.must_change_password:
                flags.append("must-change-password")
            if u.totp_enabled:
                flags.append("totp")
            print(
                f"{u.username:<24} {u.role:<6} {state:<8} last sign-in {seen:<20} "
                f"failed {failures.get(u.username, 0)}  {' '.join(flags)}".rstrip()
            )
    return 0


def cmd_create_pairing_code(args: argparse.Namespace) -> int:
    """Print a one-time pairing code for a new kiosk."""
    from clinic.audit import audit
    from clinic.kiosks import create_pairing_code

    settings = _settings()
    db = _database(settings)
    with db.writer.begin() as session:
        code, row = create_pairing_code(session=session, settings=settings)
        audit(
            session=session, action="pairing_code.create", actor="cli", target=f"pairing:{row.id}"
        )
    if args.quiet:
        print(code)
    else:
        print(f"pairing code: {code}  (valid until {row.expires_at:%Y-%m-%d %H:%M} UTC, once)")
    return 0


def cmd_import_appointments(args: argparse.Namespace) -> int:
    """Import appointments from a CSV file; print per-row errors (good rows are kept)."""
    from clinic.appointments import CsvFormatError, import_appointments_csv
    from clinic.audit import audit

    settings = _settings()
    db = _database(settings)
    data = Path(args.csv).read_bytes() if args.csv != "-" else sys.stdin.buffer.read()
    try:
        with db.writer.begin() as session:
            report = import_appointments_csv(session=session, data=data, tz=settings.tz)
            audit(
                session=session,
                action="appointments.import",
                actor="cli",
                details={
                    "created": report.created,
                    "updated": report.updated,
                    "errors": len(report.errors),
                },
            )
    except CsvFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"created {report.created}, updated {report.updated}, rejected rows {report.rejected_rows}"
    )
    for error in report.errors:
        print(f"  {error}", file=sys.stderr)
    return 1 if report.errors else 0


def cmd_revoke_kiosk(args: argparse.Namespace) -> int:
    """Revoke a kiosk by id or unique name."""
    from clinic.audit import audit
    from clinic.kiosks import revoke_kiosk
    from clinic.models import Kiosk

    db = _database(_settings())
    with db.writer.begin() as session:
        try:
            kiosk_id = uuid.UUID(args.kiosk)
        except ValueError:
            matches = session.scalars(select(Kiosk).where(Kiosk.name == args.kiosk)).all()
            if len(matches) != 1:
                print(
                    f"error: {len(matches)} kiosks named {args.kiosk!r}; use the id",
                    file=sys.stderr,
                )
                return 1
            kiosk_id = matches[0].id
        kiosk = revoke_kiosk(session=session, kiosk_id=kiosk_id)
        if kiosk is None:
            print(f"error: no kiosk {args.kiosk}", file=sys.stderr)
            return 1
        audit(session=session, action="kiosk.revoke", actor="cli", target=f"kiosk:{kiosk.id}")
        print(f"revoked kiosk {kiosk.name} ({kiosk.id})")
    return 0


def cmd_list_kiosks(_args: argparse.Namespace) -> int:
    """List paired kiosks."""
    from clinic.models import Kiosk

    db = _database(_settings())
    with db.reader() as session:
        for k in session.scalars(select(Kiosk).order_by(Kiosk.created_at)):
            state = "revoked" if k.revoked_at else "active"
            seen = f"{k.last_seen_at:%Y-%m-%d %H:%M}" if k.last_seen_at else "never"
            print(
                f"{k.id}  {k.name:<20} {state:<8} last seen {seen}  v{k.app_version or '?'}"
                f"  backlog {k.backlog}  failed {k.failed}"
            )
    return 0


def cmd_seed_demo(_args: argparse.Namespace) -> int:
    """Seed demo data (demo/dev only): appointments today, FAQ, clinic details, users."""
    from clinic.demo import DEMO_ADMIN, DemoRefused, seed_demo

    settings = _settings()
    db = _database(settings)
    try:
        with db.writer.begin() as session:
            done = seed_demo(session=session, settings=settings)
    except DemoRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in done:
        print(f"seeded {line}")
    print(f"demo admin login: {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]}")
    return 0


def cmd_purge(_args: argparse.Namespace) -> int:
    """Erase names, birth dates, contact details and texts older than the retention period."""
    from clinic.models import utcnow
    from clinic.retention import run_purge

    settings = _settings()
    report = run_purge(_database(settings), now=utcnow(), actor="cli")
    print(
        f"purged data older than {settings.retention_days} days: "
        f"{report.appointments} appointments, {report.arrivals} arrivals, "
        f"{report.questions} questions, {report.ratings} ratings, "
        f"{report.follow_up_responses} follow-up responses, "
        f"{report.received_bodies} received bodies, {report.tokens} expired tokens"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of every command."""
    parser = argparse.ArgumentParser(
        prog="clinic-server",
        description="Clinic server for waiting-room kiosks. Settings come from CLINIC_* "
        "environment variables or the TOML file named by CLINIC_CONFIG (see docs/server.md).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP server (uvicorn)")
    serve.add_argument("--host", default=os.environ.get("CLINIC_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("CLINIC_PORT", "8000")))
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--migrate", action="store_true", help="upgrade the schema first")
    serve.add_argument("--log-level", default="info")
    # Off by default: request lines carry follow-up tokens, which open a patient's page.
    serve.add_argument("--access-log", dest="access_log", action="store_true")
    serve.add_argument("--no-access-log", dest="access_log", action="store_false")
    serve.set_defaults(access_log=False)
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="upgrade the database schema")
    migrate.add_argument("--revision", default="head")
    migrate.set_defaults(func=cmd_migrate)

    sub.add_parser(
        "check", help="validate settings and database (reachable, migrated) before start"
    ).set_defaults(func=cmd_check)

    backup = sub.add_parser("backup", help="back up the database (online; safe while serving)")
    backup.add_argument("path", help="file to write (SQLite copy, or pg_dump custom format)")
    backup.set_defaults(func=cmd_backup)

    restore = sub.add_parser("restore", help="restore a backup into the configured database")
    restore.add_argument("path", help="file written by backup")
    restore.add_argument(
        "--force", action="store_true", help="replace a database that already holds tables"
    )
    restore.set_defaults(func=cmd_restore)

    for name, helptext in (
        ("create-admin", "create an admin user"),
        ("create-user", "create a staff user"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("username")
        p.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of stdin",
        )
        if name == "create-user":
            p.add_argument("--role", choices=["staff", "admin"], default="staff")
        p.set_defaults(func=cmd_create_user)

    for name, helptext in (
        ("unlock", "forget an account's failed sign-ins (all addresses)"),
        ("disable", "disable an account; its sessions end at once"),
        ("enable", "enable a disabled account"),
        ("end-sessions", "sign a user out everywhere"),
        ("reset-password", "set a temporary password the user must change at sign-in"),
        ("reset-totp", "turn off a user's two-step sign-in (lost phone)"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("username")
        if name == "reset-password":
            p.add_argument(
                "--password-stdin",
                action="store_true",
                help="read the temporary password from stdin instead of printing a random one",
            )
        p.set_defaults(func=cmd_account)
    sub.add_parser("list-users", help="list staff users and their last sign-in").set_defaults(
        func=cmd_list_users
    )

    pairing = sub.add_parser("create-pairing-code", help="print a one-time kiosk pairing code")
    pairing.add_argument("--quiet", action="store_true", help="print only the code")
    pairing.set_defaults(func=cmd_create_pairing_code)

    imp = sub.add_parser("import-appointments", help="import appointments from CSV ('-': stdin)")
    imp.add_argument("csv")
    imp.set_defaults(func=cmd_import_appointments)

    revoke = sub.add_parser("revoke-kiosk", help="revoke a kiosk (by id or unique name)")
    revoke.add_argument("kiosk")
    revoke.set_defaults(func=cmd_revoke_kiosk)

    sub.add_parser("list-kiosks", help="list paired kiosks").set_defaults(func=cmd_list_kiosks)
    sub.add_parser(
        "purge", help="erase identifying data older than the retention period (audited)"
    ).set_defaults(func=cmd_purge)
    sub.add_parser("seed-demo", help="seed demo data (demo/dev only)").set_defaults(
        func=cmd_seed_demo
    )
    sub.add_parser(
        "ehr-worker", help="deliver EHR messages, listen for SIU, pull the schedule (foreground)"
    ).set_defaults(func=cmd_ehr_worker)
    return parser


def cmd_ehr_worker(_args: argparse.Namespace) -> int:
    """Run the EHR link (clinic/ehr) in the foreground, without the HTTP server."""
    from clinic.ehr.runtime import serve

    return serve()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ValidationError as exc:
        # Only the messages: pydantic's own text would echo the values, the secret key too.
        for error in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in error["loc"])
            print(f"error: settings{' ' + where if where else ''}: {error['msg']}", file=sys.stderr)
        return 2
    except ValueError as exc:  # bad settings (pydantic ValidationError is a ValueError)
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
