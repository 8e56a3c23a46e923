"""Schemathesis over every route (kiosk API, staff routes signed in, follow-up pages) of a
real server process on SQLite and PostgreSQL, with unpaired surrogates, NUL characters,
timestamps at the edges of their range and huge numbers: no answer is a 5xx, and the server
log holds none of the hostile values' tracebacks. bench/fuzz.py runs the long version.
"""

from __future__ import annotations

from pathlib import Path

from fuzz_support import fuzz_server
from security_helpers import KioskClient, signed_in_admin
from serverproc import ServerProcess

from clinic.app import create_app
from clinic.config import Settings

#: Bounded for CI (well under a minute per database here); bench/fuzz.py runs far more.
EXAMPLES_PER_OPERATION = 12


def test_fuzz_every_route_gets_no_server_error(clinic_server: ServerProcess) -> None:
    app = create_app(Settings(environment="test", database_url=clinic_server.database_url))
    kiosk = KioskClient(clinic_server, "fuzzed")
    report = fuzz_server(
        app=app,
        base_url=clinic_server.url,
        staff=lambda: signed_in_admin(clinic_server),
        kiosk_token=kiosk.token,
        examples_per_operation=EXAMPLES_PER_OPERATION,
    )
    app.state.db.dispose()
    assert report.server_errors == []
    # Every route was reached, kiosk, staff and follow-up alike, and answered.
    paths = " ".join(report.operations)
    for path in ("/api/kiosk/v1/records", "/dashboard/admin/faq", "/f/{token}", "/login"):
        assert path in paths
    assert report.requests >= EXAMPLES_PER_OPERATION * len(report.operations) // 2
    assert any(200 <= status < 300 for status in report.by_status)  # signed in for real
    log = (Path(clinic_server.data_dir) / "server.log").read_text(errors="replace")
    assert "Traceback" not in log
