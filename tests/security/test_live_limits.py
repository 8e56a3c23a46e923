"""Limits hold across worker processes: `clinic-server serve --workers 3` on PostgreSQL.

Each request goes on a fresh connection from many threads, so the kernel spreads them over
the three workers; a limit kept in each worker's memory lets through about three times its
value (shown by the memory-backed run), the shared one holds at its configured value.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from sync import protocol

# Own copies, not imports from a conftest: with several test directories in one run,
# "conftest" names whichever was imported first.
ROOT = Path(__file__).resolve().parents[2]
PG_HOST = os.environ.get("CLINIC_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CLINIC_TEST_PG_PORT", "5432"))
PG_ADMIN_URL = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/postgres"
KIOSK_PER_MINUTE = 60
KIOSK_BURST = 10
PAIR_PER_MINUTE = 6
FOLLOW_UP_PER_MINUTE = 12
REQUESTS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _postgres_problem() -> str | None:
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture
def pg_url() -> Iterator[str]:
    problem = _postgres_problem()
    if problem is not None:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"REQUIRE_POSTGRES=1 but PostgreSQL: {problem}")
        pytest.skip(f"PostgreSQL not available: {problem}")
    name = f"clinic_limits_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def serve(pg_url: str, tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Return a function starting `clinic-server serve --workers N`; returns its base URL."""
    procs: list[subprocess.Popen[bytes]] = []
    env = {
        **os.environ,
        "CLINIC_ENVIRONMENT": "test",
        "CLINIC_DATABASE_URL": pg_url,
        "CLINIC_KIOSK_REQUESTS_PER_MINUTE": str(KIOSK_PER_MINUTE),
        "CLINIC_KIOSK_BURST": str(KIOSK_BURST),
        "CLINIC_PAIR_REQUESTS_PER_MINUTE": str(PAIR_PER_MINUTE),
        "CLINIC_FOLLOW_UP_REQUESTS_PER_MINUTE": str(FOLLOW_UP_PER_MINUTE),
    }
    subprocess.run([sys.executable, "-m", "clinic.cli", "migrate"], env=env, cwd=ROOT, check=True)

    def start(workers: int = 3, **settings: str) -> str:
        port = free_port()
        proc_env = {**env, **{f"CLINIC_{k.upper()}": v for k, v in settings.items()}}
        log = (tmp_path / f"server-{port}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "clinic.cli", "serve", "--port", str(port),
             "--workers", str(workers)],
            env=proc_env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    time.sleep(2.0)  # every worker up, not only the first to answer
                    return url
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _pair(url: str, pg_url: str) -> str:
    from clinic.config import Settings
    from clinic.db import Database
    from clinic.kiosks import create_pairing_code

    settings = Settings(database_url=pg_url, environment="test")
    db = Database(settings)
    with db.writer.begin() as session:
        code, _row = create_pairing_code(session=session, settings=settings)
    db.dispose()
    paired = httpx.post(
        url + protocol.PAIR_PATH,
        json={"code": code, "kiosk_name": f"k-{secrets.token_hex(2)}", "app_version": "1.0"},
        timeout=10,
    )
    assert paired.status_code == 201, paired.text
    return str(paired.json()["token"])


def _burst(send: Callable[[], int]) -> tuple[list[int], float]:
    """Send REQUESTS requests from 30 threads, each on its own connection."""
    started = time.monotonic()
    with ThreadPoolExecutor(30) as pool:
        codes = list(pool.map(lambda _i: send(), range(REQUESTS)))
    return codes, time.monotonic() - started


def _heartbeat(url: str, token: str) -> Callable[[], int]:
    def send() -> int:
        response = httpx.post(
            url + protocol.HEARTBEAT_PATH,
            json={"app_version": "1.0", "backlog": 0, "failed": 0},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        return response.status_code

    return send


def test_live_kiosk_limit_holds_across_three_workers(
    serve: Callable[..., str], pg_url: str
) -> None:
    url = serve(3)
    token = _pair(url, pg_url)
    codes, elapsed = _burst(_heartbeat(url, token))
    allowed = codes.count(200)
    assert set(codes) <= {200, 429}, codes
    # The burst, plus what refilled while the burst was sent (1 per second), not 3x.
    assert KIOSK_BURST <= allowed <= KIOSK_BURST + int(elapsed * KIOSK_PER_MINUTE / 60) + 1


def test_live_per_process_limits_would_multiply(serve: Callable[..., str], pg_url: str) -> None:
    url = serve(3, limits_backend="memory")
    token = _pair(url, pg_url)
    codes, elapsed = _burst(_heartbeat(url, token))
    # Proves the requests reach several workers: each kept its own bucket.
    assert codes.count(200) > KIOSK_BURST + int(elapsed * KIOSK_PER_MINUTE / 60) + 1


def test_live_pairing_and_follow_up_limits_hold_across_workers(
    serve: Callable[..., str],
) -> None:
    url = serve(3)

    def pair() -> int:
        body = {"code": "AAAAA-AAAAA", "kiosk_name": "guess", "app_version": "1.0"}
        return httpx.post(url + protocol.PAIR_PATH, json=body, timeout=30).status_code

    codes, elapsed = _burst(pair)
    assert set(codes) <= {400, 429}, codes
    assert PAIR_PER_MINUTE <= codes.count(400) <= PAIR_PER_MINUTE + int(elapsed / 10) + 1

    def follow_up() -> int:
        path = protocol.FOLLOW_UP_PATH.format(token=protocol.new_follow_up_token())
        return httpx.get(url + path, timeout=30).status_code

    codes, elapsed = _burst(follow_up)
    refused = codes.count(429)
    assert refused > 0
    served = len(codes) - refused
    assert FOLLOW_UP_PER_MINUTE <= served <= FOLLOW_UP_PER_MINUTE + int(elapsed / 5) + 1


def test_live_first_sighting_of_a_token_is_shared(pg_url: str) -> None:
    from clinic.db import make_engine, migrate
    from clinic.limits import SharedFirstSeen

    migrate(pg_url)
    one, two = make_engine(pg_url), make_engine(pg_url)
    try:
        token = protocol.new_follow_up_token()
        assert SharedFirstSeen(one).age(token) < 0.5
        time.sleep(0.6)
        assert SharedFirstSeen(two).age(token) >= 0.5  # another process sees the same start
        assert SharedFirstSeen(two).age(protocol.new_follow_up_token()) < 0.5
    finally:
        one.dispose()
        two.dispose()
