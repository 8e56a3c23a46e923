"""kill -9 of the kiosk process at random moments: nothing confirmed is lost or doubled."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from conftest import open_kiosk, pair_kiosk
from serverproc import ROOT, ServerProcess

CHILD = Path(__file__).with_name("kiosk_child.py")
SUBMISSIONS = 1000
MIN_KILLS = 20


def _spawn(
    data_dir: Path, server: ServerProcess, offset: int, count: int, drain: bool
) -> subprocess.Popen[str]:
    cmd = [
        sys.executable,
        str(CHILD),
        "--data-dir",
        str(data_dir),
        "--server-url",
        server.url,
        "--offset",
        str(offset),
        "--count",
        str(count),
    ]
    if drain:
        cmd.append("--drain")
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_kill_9_during_submissions_loses_and_doubles_nothing(
    tmp_path: Path, server: ServerProcess
) -> None:
    data_dir = tmp_path / "kiosk"
    kiosk = open_kiosk(data_dir, server_url=server.url)
    pair_kiosk(kiosk, server.url, server.pairing_code())
    kiosk.close()
    before = set(server.received_ids())

    rng = random.Random(int(os.environ.get("SYNC_CRASH_SEED", "20261128")))
    confirmed: list[str] = []
    kills = 0
    offset = 0
    while len(confirmed) < SUBMISSIONS:
        remaining = SUBMISSIONS - len(confirmed)
        # Spread the kills so that at least MIN_KILLS land within the submissions.
        per_run = remaining / max(1, MIN_KILLS + 3 - kills)
        kill_after = rng.randint(1, max(1, int(2 * per_run)))
        child = _spawn(data_dir, server, offset, remaining, drain=False)
        assert child.stdout is not None
        if rng.random() < 0.2:  # sometimes while it starts up (reset, pull, first send)
            time.sleep(rng.uniform(0.0, 0.6))
        else:
            seen = 0
            for line in child.stdout:
                if line.startswith("saved "):
                    confirmed.append(line.split()[1])
                    seen += 1
                if seen >= kill_after:
                    time.sleep(rng.uniform(0.0, 0.03))  # land anywhere: commit, send, ack
                    break
        assert child.poll() in (None, 0), "kiosk process failed by itself"
        child.send_signal(signal.SIGKILL)
        kills += 1
        rest = child.stdout.read()  # lines written before the kill are still in the pipe
        confirmed += [ln.split()[1] for ln in rest.splitlines() if ln.startswith("saved ")]
        child.wait(30)
        child.stdout.close()
        offset += SUBMISSIONS  # fresh synthetic names per run
    # A last clean run (no submissions) delivers whatever the kills left behind.
    child = _spawn(data_dir, server, offset, 0, drain=True)
    out, _ = child.communicate(timeout=180)
    assert child.returncode == 0 and "drained 0" in out
    assert kills >= MIN_KILLS
    assert len(confirmed) >= SUBMISSIONS
    assert len(set(confirmed)) == len(confirmed)

    stored = Counter(i for i in server.received_ids() if i not in before)
    missing = [i for i in confirmed if uuid.UUID(i).hex not in stored]
    assert not missing, f"{len(missing)} confirmed records never reached the server"
    assert max(stored.values()) == 1  # the primary key makes this structural; check anyway
    # Everything the kiosk committed (confirmed or not) was delivered, and the file is sound.
    db_path = data_dir / "kiosk.sqlite3"
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        statuses = dict(conn.execute("SELECT status, count(*) FROM outbox GROUP BY status"))
        kiosk_ids = {uuid.UUID(r).hex for (r,) in conn.execute("SELECT id FROM outbox")}
    assert statuses == {"sent": len(kiosk_ids)}
    assert kiosk_ids == set(stored)
