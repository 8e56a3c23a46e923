"""The long fuzz run: Schemathesis over every route of a real server, hostile values included.

Starts a clinic server process (SQLite by default, or --database-url for PostgreSQL), signs
in as an admin and pairs a kiosk, then sends --examples hostile cases per operation (the
same generator as tests/security/test_fuzz_every_route.py, which runs 12 per operation in
CI). Prints the answers by status and every 5xx; the last line is one JSON object.
Usage: python bench/fuzz.py [--examples 300] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "sync"), str(ROOT / "tests" / "security")]

from fuzz_support import fuzz_server  # noqa: E402
from security_helpers import KioskClient, signed_in_admin  # noqa: E402
from serverproc import ServerProcess  # noqa: E402

from clinic.app import create_app  # noqa: E402
from clinic.config import Settings  # noqa: E402


def main() -> int:
    """Run the fuzzer once and print what it found."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=300, help="cases per operation")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        extra = {"database_url": args.database_url} if args.database_url else {}
        server = ServerProcess(Path(tmp), **extra)
        if args.database_url:
            server.database_url = args.database_url
        server.migrate()
        server.start()
        app = create_app(Settings(environment="test", database_url=server.database_url))
        try:
            report = fuzz_server(
                app=app,
                base_url=server.url,
                staff=lambda: signed_in_admin(server),
                kiosk_token=KioskClient(server, "fuzzed").token,
                examples_per_operation=args.examples,
            )
        finally:
            app.state.db.dispose()
            server.close()
    print(
        f"{len(report.operations)} operations, {report.requests} requests, {report.seconds:.0f} s"
    )
    for code, count in sorted(report.by_status.items()):
        print(f"  {code}: {count}")
    for failure in report.server_errors:
        print(f"5xx: {failure}")
    print(
        json.dumps(
            {
                "operations": len(report.operations),
                "requests": report.requests,
                "server_errors": len(report.server_errors),
                "seconds": round(report.seconds, 1),
                "by_status": {str(k): v for k, v in sorted(report.by_status.items())},
            }
        )
    )
    return 1 if report.server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
