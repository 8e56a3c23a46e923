"""Admin command line: `clinic-server <command>` (settings from CLINIC_* / CLINIC_CONFIG)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select

from clinic.config import Settings
from clinic.db import Database


def _settings() -> Settings:
    return Settings.from_env()


def _database(settings: Settings) -> Database:
    return Database(settings)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the server with uvicorn."""
    import uvicorn

    settings = _settings()  # fail fast on bad settings, before forking workers
    if args.migrate:
        from clinic.db import migrate

        migrate(settings.database_url)
    uvicorn.run(
        "clinic.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
        log_level=args.log_level,
        access_log=args.access_log,
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Upgrade the database schema to the newest revision."""
    from clinic.db import migrate

    settings = _settings()
    migrate(settings.database_url, args.revision)
    print(f"database at revision {args.revision}")
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
    serve.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        help="proxies trusted for X-Forwarded-For (login throttling by address)",
    )
    serve.add_argument("--log-level", default="info")
    # Off by default: request lines carry follow-up tokens, which open a patient's page.
    serve.add_argument("--access-log", dest="access_log", action="store_true")
    serve.add_argument("--no-access-log", dest="access_log", action="store_false")
    serve.set_defaults(access_log=False)
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="upgrade the database schema")
    migrate.add_argument("--revision", default="head")
    migrate.set_defaults(func=cmd_migrate)

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
    except ValueError as exc:  # bad settings (pydantic ValidationError is a ValueError)
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
