"""Server-side retention over HTTP on SQLite and PostgreSQL: stored bodies lose identifying
fields once applied, `clinic-server purge` (and the server's own daily run) leaves no
synthetic name in the database, follow-up tokens are stored hashed, SQLite files are 0600.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from security_helpers import (
    KioskClient,
    cli,
    execute,
    question,
    rating,
    record,
    scalar,
    signed_in_admin,
    walk_in,
)
from serverproc import ServerProcess

from sync.protocol import new_follow_up_token

#: Synthetic values, unusual enough that finding one in the database means it was kept.
NAMES = {
    "appointment_last": "Vexillarion",
    "appointment_first": "Ottoline",
    "walk_in_last": "Quorvalis",
    "walk_in_first": "Ysolde",
    "question": "Glimmerwick parking question",
    "comment": "Thrumbleton comment text",
    "contact": "Zanzibarova",
}
AGE_DAYS = 400


def database_bytes(server: ServerProcess) -> bytes:
    """Return every byte the database holds: the SQLite files, or a pg_dump of the data."""
    if server.database_url.startswith("sqlite"):
        path = Path(server.database_url.removeprefix("sqlite:///"))
        return b"".join(
            p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
        )
    url = server.database_url.replace("postgresql+psycopg://", "postgresql://")
    return subprocess.run(
        ["pg_dump", "--data-only", url], capture_output=True, check=True, timeout=120
    ).stdout


def _fill(server: ServerProcess) -> tuple[KioskClient, list[dict[str, object]]]:
    """Store appointments and kiosk records holding every kind of identifying text."""
    http, csrf = signed_in_admin(server)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0).isoformat()
    csv = (
        "ref,first_name,last_name,date_of_birth,starts_at,clinician,phone\n"
        f"old-1,{NAMES['appointment_first']},{NAMES['appointment_last']},1961-07-08,"
        f"{tomorrow},Dr. Test,+1 555 010 4242\n"
    )
    imported = http.post(
        server.url + "/api/admin/appointments/import",
        files={"file": ("day.csv", csv.encode(), "text/csv")},
        headers={"X-CSRF-Token": csrf},
        timeout=60,
    )
    assert imported.status_code == 200, imported.text
    kiosk = KioskClient(server, "front")
    rated = rating(face=1)
    arrived = walk_in(last_name=NAMES["walk_in_last"], first_name=NAMES["walk_in_first"])
    asked = question(text=NAMES["question"], contact_name=NAMES["contact"])
    records = [
        rated,
        arrived,
        asked,
        record("rating_detail", {"rating_id": rated["id"], "comment": NAMES["comment"]}),
        record("contact_update", {"check_in_id": arrived["id"], "email": "zz@example.test"}),
    ]
    assert {r["status"] for r in kiosk.send(*records)} == {201}
    return kiosk, records


def _age_everything(server: ServerProcess) -> None:
    """Move every stored timestamp AGE_DAYS into the past (as if the data were that old)."""
    if server.database_url.startswith("sqlite"):
        shift = f"datetime({{col}}, '-{AGE_DAYS} days')"
    else:
        shift = f"{{col}} - interval '{AGE_DAYS} days'"
    for table, columns in {
        "appointments": ("starts_at",),
        "arrivals": ("arrived_at", "received_at"),
        "questions": ("asked_at", "received_at"),
        "ratings": ("rated_at", "received_at"),
        "received_records": ("received_at", "created_at"),
        "follow_up_tokens": ("created_at", "expires_at"),
    }.items():
        sets = ", ".join(f"{col} = {shift.format(col=col)}" for col in columns)
        execute(server, f"UPDATE {table} SET {sets}")


def _assert_no_name_left(server: ServerProcess) -> None:
    data = database_bytes(server)
    for value in NAMES.values():
        assert value.encode() not in data, value


def test_retention_purge_leaves_no_synthetic_name_in_the_database(
    clinic_server: ServerProcess,
) -> None:
    kiosk, records = _fill(clinic_server)
    before = database_bytes(clinic_server)
    assert NAMES["walk_in_last"].encode() in before  # the check below can fail
    assert NAMES["appointment_last"].encode() in before
    # Nothing is old yet: a purge keeps everything staff still need.
    cli(clinic_server, "purge")
    assert NAMES["walk_in_last"].encode() in database_bytes(clinic_server)
    _age_everything(clinic_server)
    out = cli(clinic_server, "purge")
    assert "1 appointments" in out and "1 arrivals" in out
    _assert_no_name_left(clinic_server)
    audited = scalar(
        clinic_server,
        "SELECT count(*) FROM audit_log WHERE action = 'retention.purge' AND actor = 'cli'",
    )
    assert audited == 2
    # The records' hashes stay: the kiosk resending them still hears "duplicate".
    assert {r["outcome"] for r in kiosk.send(*records)} == {"duplicate"}


def test_retention_stored_bodies_lose_identifying_fields_once_applied(
    clinic_server: ServerProcess,
) -> None:
    kiosk = KioskClient(clinic_server, "front")
    arrived = walk_in(last_name=NAMES["walk_in_last"])
    pending = record("contact_update", {"check_in_id": arrived["id"], "phone": "+1 555 010 6060"})
    kiosk.send(pending)  # its target has not arrived: the body is kept until applied
    assert "6060" in str(scalar(clinic_server, "SELECT body FROM received_records"))
    kiosk.send(arrived)
    bodies = " ".join(
        str(scalar(clinic_server, "SELECT body FROM received_records WHERE kind = :k", k=k))
        for k in ("walk_in", "contact_update")
    )
    # The phones by their last digits in any spelling ("+1 555 010 7788", "5550107788"),
    # not a bare "7788", which a timestamp's microseconds can hold.
    digits = re.sub(r"[\s\-()+]", "", bodies)
    for value in (NAMES["walk_in_last"], "Ysolde", "1979-05-17", "cough"):
        assert value not in bodies, value
    for phone in ("5550106060", "5550107788"):
        assert phone not in digits, phone
    assert arrived["body"]["follow_up_token"] not in bodies  # only its hash is kept
    assert scalar(clinic_server, "SELECT phone FROM arrivals") == "+1 555 010 6060"
    # Idempotency still works on the redacted rows: same body duplicate, another body 409.
    assert kiosk.send(arrived)[0]["outcome"] == "duplicate"
    changed = walk_in(last_name="Someoneelse")
    changed["id"] = arrived["id"]
    assert kiosk.send(changed)[0]["status"] == 409


def test_retention_follow_up_tokens_are_stored_hashed(clinic_server: ServerProcess) -> None:
    kiosk = KioskClient(clinic_server, "front")
    token = new_follow_up_token()
    kiosk.send(rating(follow_up_token=token))
    data = database_bytes(clinic_server)
    assert token.encode() not in data
    assert hashlib.sha256(token.encode()).hexdigest().encode() in data
    page = kiosk.http.get(clinic_server.url + f"/f/{token}", timeout=10)
    assert page.status_code == 200  # found by its hash


def test_retention_sqlite_files_are_owner_only(tmp_path: Path) -> None:
    # SQLite only (PostgreSQL's files belong to its own server): not parametrized.
    old = os.umask(0o022)  # a usual umask: files would be world-readable by default
    server = ServerProcess(tmp_path / "server")
    try:
        server.migrate()
        server.start()
    finally:
        os.umask(old)
    try:
        KioskClient(server, "front").send(rating())
        for file in (server.db_path, Path(f"{server.db_path}-wal"), Path(f"{server.db_path}-shm")):
            assert file.exists() and stat.S_IMODE(file.stat().st_mode) == 0o600, file
    finally:
        server.close()


def test_retention_the_server_runs_the_purge_itself_once_a_day(
    start_clinic_server: Callable[..., ServerProcess],
) -> None:
    filler = start_clinic_server(purge_check_seconds="0")  # never purges by itself
    _fill(filler)
    _age_everything(filler)
    filler.close()
    first = start_clinic_server(purge_check_seconds="1")
    second = start_clinic_server(purge_check_seconds="1")  # two processes, one database
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = scalar(
            first,
            "SELECT count(*) FROM audit_log WHERE action = 'retention.purge' AND actor = 'system'",
        )
        if done:
            break
        time.sleep(0.5)
    assert done == 1
    time.sleep(3)  # both processes checked again: the day's run is claimed once
    assert scalar(first, "SELECT count(*) FROM audit_log WHERE action = 'retention.purge'") == 1
    # One purge row (the alert checks keep a row of their own in the same table).
    assert scalar(first, "SELECT count(*) FROM maintenance_runs WHERE name = 'purge'") == 1
    assert second.proc is not None and second.proc.poll() is None
    assert scalar(first, "SELECT count(*) FROM arrivals WHERE last_name IS NOT NULL") == 0
