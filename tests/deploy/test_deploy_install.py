"""Install the built wheel as a clinic would, in fresh venvs outside the repository.

The kiosk venv ([kiosk]) starts the installed `kiosk --demo --self-test` under the display
the suite runs on (Xvfb), which taps a demo check-in through the real screens to the
receipt while feeding a systemd-style watchdog socket. The server venv ([server]) has no
Kivy; it migrates, serves, and ingests a record sent by the installed kiosk. Unsafe starts
are refused with a message naming the setting.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import clean_env, run

KIOSK_ONLY = ("kivy", "qrcode", "requests")
SERVER_ONLY = ("fastapi", "uvicorn", "psycopg", "alembic", "starlette", "jinja2")


def python(venv: Path) -> str:
    return str(venv / "bin" / "python")


def importable(venv: Path, module: str, cwd: Path) -> bool:
    code = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 1)"
    return run([python(venv), "-c", code], cwd=cwd, env=clean_env()).returncode == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def installed_assets(venv: Path, cwd: Path) -> dict[str, float]:
    """Map every file of the installed assets package to its modification time."""
    code = (
        "import importlib.resources, pathlib, json;"
        "root = pathlib.Path(str(importlib.resources.files('assets')));"
        "print(json.dumps({str(p.relative_to(root)): p.stat().st_mtime "
        "for p in root.rglob('*') if p.is_file() and '__pycache__' not in p.parts}))"
    )
    done = run([python(venv), "-c", code], cwd=cwd, env=clean_env())
    assert done.returncode == 0, done.stderr
    import json

    return dict(json.loads(done.stdout))


def test_kiosk_venv_has_no_server_packages(kiosk_venv: Path, tmp_path: Path) -> None:
    for module in KIOSK_ONLY:
        assert importable(kiosk_venv, module, tmp_path), module
    for module in SERVER_ONLY:
        assert not importable(kiosk_venv, module, tmp_path), f"{module} in the kiosk venv"
    where = run(
        [python(kiosk_venv), "-c", "import kiosk; print(kiosk.__file__)"],
        cwd=tmp_path,
        env=clean_env(),
    )
    assert where.stdout.startswith(str(kiosk_venv)), where.stdout  # not the checkout


def test_installed_kiosk_refuses_to_start_without_settings(
    kiosk_venv: Path, tmp_path: Path
) -> None:
    done = run([str(kiosk_venv / "bin" / "kiosk")], cwd=tmp_path, env=clean_env(), timeout=60)
    assert done.returncode == 2
    assert "server_url (KIOSK_SERVER_URL)" in done.stderr
    assert "admin_pin_hash (KIOSK_ADMIN_PIN_HASH)" in done.stderr
    assert not (tmp_path / "var").exists()  # nothing created: no database, no outbox


def test_installed_demo_kiosk_checks_in_by_taps_and_feeds_the_watchdog(
    kiosk_venv: Path, tmp_path: Path
) -> None:
    assets_before = installed_assets(kiosk_venv, tmp_path)
    assert {"locale/en/LC_MESSAGES/kiosk.mo", "locale/es/LC_MESSAGES/kiosk.mo"} <= set(
        assets_before
    ), "the wheel lacks compiled catalogs"
    assert {"logo.png", "emergency_words.json", "demo_faq.json"} <= set(assets_before)

    notify_path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(notify_path))
        notify.settimeout(0.1)
        env = clean_env(
            NOTIFY_SOCKET=str(notify_path),
            WATCHDOG_USEC="3000000",  # a ping at least every second
            KIVY_HOME=str(tmp_path / "kivy"),
            KIVY_NO_FILELOG="1",
        )
        done = run(
            [str(kiosk_venv / "bin" / "kiosk"), "--demo", "--self-test"],
            cwd=tmp_path,
            env=env,
            timeout=120,
        )
        messages = []
        while True:
            try:
                messages.append(notify.recv(64))
            except TimeoutError:
                break
    assert "self-test: reached receipt" in done.stderr, done.stderr[-3000:]
    assert done.returncode == 0, done.stderr[-3000:]
    assert messages[0] == b"READY=1"
    assert messages.count(b"WATCHDOG=1") >= 2 and messages[-1] == b"STOPPING=1"
    assert installed_assets(kiosk_venv, tmp_path) == assets_before  # nothing written at start

    # The demo's own seeded check-in never entered the outbox; the tapped one did.
    database = tmp_path / "var" / "kiosk" / "kiosk.sqlite3"
    with sqlite3.connect(database) as conn:
        kinds = [kind for (kind,) in conn.execute("SELECT kind FROM outbox")]
        check_ins = conn.execute("SELECT count(*) FROM check_ins").fetchone()[0]
    assert check_ins == 2 and kinds == ["check_in"]


def test_server_venv_has_no_kivy(server_venv: Path, tmp_path: Path) -> None:
    done = run([python(server_venv), "-c", "import kivy"], cwd=tmp_path, env=clean_env())
    assert done.returncode != 0 and "No module named 'kivy'" in done.stderr
    for module in SERVER_ONLY:
        assert importable(server_venv, module, tmp_path), module


def test_installed_server_refuses_the_placeholder_secret(server_venv: Path, tmp_path: Path) -> None:
    from clinic.config import DEFAULT_SECRET_KEY

    env = clean_env(
        CLINIC_DATABASE_URL=f"sqlite:///{tmp_path / 'clinic.db'}",
        CLINIC_SECRET_KEY=DEFAULT_SECRET_KEY,
    )
    done = run([str(server_venv / "bin" / "clinic-server"), "serve"], cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert "CLINIC_SECRET_KEY is the public placeholder" in done.stderr
    assert DEFAULT_SECRET_KEY not in done.stderr  # the message never echoes a secret
    assert not (tmp_path / "clinic.db").exists()


@pytest.fixture
def served(server_venv: Path, tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    """The installed server, migrated and serving on loopback; yields (url, env, db)."""
    port = free_port()
    database = tmp_path / "server" / "clinic.db"
    env = clean_env(
        CLINIC_DATABASE_URL=f"sqlite:///{database}",
        CLINIC_SECRET_KEY=secrets.token_urlsafe(48),
        CLINIC_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
    )
    cli = str(server_venv / "bin" / "clinic-server")
    unmigrated = run([cli, "check"], cwd=tmp_path, env=env)
    assert unmigrated.returncode == 1 and "run migrate" in unmigrated.stderr
    assert run([cli, "migrate"], cwd=tmp_path, env=env).returncode == 0
    checked = run([cli, "check"], cwd=tmp_path, env=env)
    assert checked.returncode == 0 and "(head)" in checked.stdout, checked.stderr
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [cli, "serve", "--port", str(port)], cwd=tmp_path, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if requests.get(url + "/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the installed server did not start"
            time.sleep(0.1)
        yield url, env, database
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


KIOSK_SENDS = textwrap.dedent(
    """
    import sys, threading, time
    from pathlib import Path
    from kiosk import syncing
    from kiosk.config import KioskSettings, hash_pin
    from kiosk.services import Kiosk

    url, code, data = sys.argv[1:4]
    kiosk = Kiosk.open(KioskSettings.load(
        environ={}, server_url=url, admin_pin_hash=hash_pin("4826"), data_dir=Path(data)))
    done, answer = threading.Event(), []
    syncing.request_pairing(kiosk, url, code, lambda m: (answer.append(m), done.set()))
    assert done.wait(30) and answer == [None], answer
    question = kiosk.ask_question("Is there parking for bicycles?", "en").question_id
    syncing.start_sync(kiosk)
    deadline = time.monotonic() + 60
    while kiosk.sync_status().pending and time.monotonic() < deadline:
        time.sleep(0.1)
    syncing.stop_sync(kiosk)
    print(question.replace("-", ""), kiosk.sync_status().pending)
    """
)


def test_installed_server_ingests_a_record_from_the_installed_kiosk(
    served: tuple[str, dict[str, str], Path], server_venv: Path, kiosk_venv: Path, tmp_path: Path
) -> None:
    url, env, database = served
    code = run(
        [str(server_venv / "bin" / "clinic-server"), "create-pairing-code", "--quiet"],
        cwd=tmp_path,
        env=env,
    ).stdout.strip()
    sent = run(
        [python(kiosk_venv), "-c", KIOSK_SENDS, url, code, str(tmp_path / "kiosk")],
        cwd=tmp_path,
        env=clean_env(),
        timeout=120,
    )
    assert sent.returncode == 0, sent.stderr[-3000:]
    question_id, pending = sent.stdout.split()
    assert pending == "0"
    with sqlite3.connect(database) as conn:
        stored = [
            str(i).replace("-", "") for (i,) in conn.execute("SELECT id FROM received_records")
        ]
        kinds = [kind for (kind,) in conn.execute("SELECT kind FROM received_records")]
    assert stored == [question_id] and kinds == ["question"]


def test_installed_kiosk_runs_in_a_cage_session(kiosk_venv: Path, tmp_path: Path) -> None:
    """The session kiosk.service starts: cage, Xwayland, the kiosk full screen, no desktop.

    cage runs on its headless backend here (no screen, no seat); everything else is as the
    unit has it (SDL through Xwayland). cage refuses to run as root, so under root the
    session runs as `nobody`. cage 0.1.4 exits 0 whatever its client did: the outcome is
    read from the self-test's own line.
    """
    cage = shutil.which("cage")
    assert cage and shutil.which("Xwayland"), "scripts/setup.sh installs cage and xwayland"
    work = Path(tempfile.mkdtemp(prefix="cage-session-"))
    runtime = work / "runtime"
    runtime.mkdir(mode=0o700)
    work.chmod(0o777)
    as_user: list[str] = []
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(runtime, nobody.pw_uid, nobody.pw_gid)
        as_user = ["runuser", "-u", "nobody", "--"]
    env = clean_env(
        HOME=str(work),
        XDG_RUNTIME_DIR=str(runtime),
        WLR_BACKENDS="headless",
        WLR_LIBINPUT_NO_DEVICES="1",
        WLR_RENDERER="pixman",
        SDL_VIDEODRIVER="x11",  # as kiosk.service: Kivy's SDL2 draws through Xwayland
        KIVY_HOME=str(work / "kivy"),
        KIVY_NO_FILELOG="1",
    )
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    try:
        done = run(
            [*as_user, cage, "--", str(kiosk_venv / "bin" / "kiosk"), "--demo", "--self-test"],
            cwd=work,
            env=env,
            timeout=150,
        )
        output = done.stdout + done.stderr
        assert "self-test: reached receipt" in output, output[-3000:]
        assert (work / "var" / "kiosk" / "kiosk.sqlite3").is_file()
    finally:
        shutil.rmtree(work, ignore_errors=True)
