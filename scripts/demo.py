"""Run the demo: a clinic server with demo data and a kiosk already paired with it.

    python -m scripts.demo [--port 8000] [--fresh] [--fullscreen] [--no-kiosk]

(scripts/demo.sh calls this after setting up the machine.) Everything lives under
./var/demo (or $DEMO_DATA_DIR): the server's SQLite database, the kiosk's database and its
config file. The kiosk is paired through the real pairing endpoint with a one-time code from
the admin CLI, so a check-in made on the kiosk shows up on the dashboard within a second or
two.
Ctrl-C (or closing the kiosk window) stops both.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Where the demo's databases and kiosk config live (DEMO_DATA_DIR moves them, e.g. in tests).
DEMO_DIR = Path(os.environ.get("DEMO_DATA_DIR") or ROOT / "var" / "demo")


def _demo_secret_key() -> str:
    """Return this demo's own random secret key (made once, kept so logins survive restarts)."""
    import secrets

    path = DEMO_DIR / "secret_key"
    if not path.is_file():
        DEMO_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48), "utf-8")
        path.chmod(0o600)
    return path.read_text("utf-8").strip()


def _server_env(port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "CLINIC_ENVIRONMENT": "demo",
            # The server refuses the public placeholder even in demo mode.
            "CLINIC_SECRET_KEY": _demo_secret_key(),
            "CLINIC_DATABASE_URL": f"sqlite:///{DEMO_DIR / 'clinic.db'}",
            "CLINIC_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        }
    )
    return env


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "clinic.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"demo: clinic-server {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"demo: the clinic server exited ({proc.returncode}); is port taken?")
        try:
            if requests.get(url + "/healthz", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    sys.exit("demo: the clinic server did not start in time")


def _write_kiosk_config(path: Path, server_url: str) -> None:
    path.write_text(
        "# Demo kiosk (written by scripts/demo.py; see docs/kiosk-config.md)\n"
        f'data_dir = "{DEMO_DIR / "kiosk"}"\n'
        f'server_url = "{server_url}"\n'
        "demo = true\n"
        'clinic_name = "Demo Clinic"\n',
        encoding="utf-8",
    )


def _ensure_paired(config_path: Path, server_url: str, env: dict[str, str]) -> str:
    """Pair the demo kiosk with the server unless its token still works; return its id."""
    sys.path.insert(0, str(ROOT))
    from kiosk.config import KioskSettings
    from kiosk.db import Database
    from kiosk.state import StateKey, get_state, set_flag, set_state
    from kiosk.syncing import app_version
    from sync.client import KioskClient, SyncError
    from sync.protocol import Heartbeat

    settings = KioskSettings.load(config_path)
    db = Database(settings.database_path)
    try:
        with db.read_session() as session:
            token = get_state(StateKey.KIOSK_TOKEN, session=session)
            url = get_state(StateKey.SERVER_URL, session=session)
            kiosk_id = get_state(StateKey.KIOSK_ID, session=session)
        if token and url == server_url and kiosk_id:
            client = KioskClient(server_url, token, timeout=(2.0, 5.0))
            try:
                client.heartbeat(Heartbeat(app_version=app_version(), backlog=0, failed=0))
                return kiosk_id
            except SyncError:
                pass  # a fresh server database, or revoked: pair again
            finally:
                client.close()
        code = _cli(env, "create-pairing-code", "--quiet").strip()
        client = KioskClient(server_url, timeout=(2.0, 10.0))
        try:
            paired = client.pair(code, kiosk_name="Demo kiosk A", app_version=app_version())
        finally:
            client.close()
        with db.write() as session:
            set_state(StateKey.SERVER_URL, server_url, session=session)
            set_state(StateKey.KIOSK_ID, str(paired.kiosk_id), session=session)
            set_state(StateKey.KIOSK_TOKEN, paired.token, session=session)
            set_state(StateKey.PULL_ETAG, None, session=session)
            set_flag(StateKey.REVOKED, False, session=session)
        return str(paired.kiosk_id)
    finally:
        db.close()


def _stop(proc: subprocess.Popen[bytes] | None, name: str) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # the kiosk's records are on disk already
    try:
        proc.wait(8)
    except subprocess.TimeoutExpired:
        print(f"demo: {name} did not stop; killing it", file=sys.stderr)
        proc.kill()
        proc.wait(5)


def main(argv: list[str] | None = None) -> int:
    """Start server and kiosk; wait for Ctrl-C or the kiosk to exit."""
    parser = argparse.ArgumentParser(prog="scripts.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--fresh", action="store_true", help="start from empty databases")
    parser.add_argument("--fullscreen", action="store_true", help="kiosk full screen")
    parser.add_argument("--no-kiosk", action="store_true", help="run only the paired server")
    args = parser.parse_args(argv)

    if args.fresh and DEMO_DIR.exists():
        import shutil

        shutil.rmtree(DEMO_DIR)
    (DEMO_DIR / "kiosk").mkdir(parents=True, exist_ok=True)
    server_url = f"http://127.0.0.1:{args.port}"
    env = _server_env(args.port)
    _cli(env, "migrate")
    print(_cli(env, "seed-demo").rstrip())

    server: subprocess.Popen[bytes] | None = None
    kiosk: subprocess.Popen[bytes] | None = None
    try:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "clinic.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(args.port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
            cwd=ROOT,
            start_new_session=True,  # Ctrl-C reaches only this script
        )
        _wait_healthy(server_url, server)
        config_path = DEMO_DIR / "kiosk.toml"
        _write_kiosk_config(config_path, server_url)
        kiosk_id = _ensure_paired(config_path, server_url, env)
        print(
            f"\nClinic server: {server_url}  (dashboard: {server_url}/dashboard)\n"
            f"Kiosk {kiosk_id} is paired with it; staff corner PIN 1234.\n"
            "Check in as Okafor, born 1984-03-12 (docs/kiosk-demo.md lists everyone),\n"
            "then watch the arrival appear on the dashboard. Ctrl-C stops both.\n",
            flush=True,
        )
        if args.no_kiosk:
            server.wait()
            return 0
        kiosk_cmd = [sys.executable, "-m", "kiosk", "--demo", "--config", str(config_path)]
        if not args.fullscreen:
            kiosk_cmd.append("--windowed")
        kiosk = subprocess.Popen(kiosk_cmd, cwd=ROOT, start_new_session=True)
        while kiosk.poll() is None and server.poll() is None:
            time.sleep(0.3)
        if server.poll() is not None:
            print("demo: the clinic server stopped", file=sys.stderr)
    except KeyboardInterrupt:
        print("\ndemo: stopping", file=sys.stderr)
    finally:
        _stop(kiosk, "kiosk")
        _stop(server, "clinic server")
    return 0


if __name__ == "__main__":
    sys.exit(main())
