"""Fixtures for the deployment tests: the wheel, built once, and fresh venvs outside the repo."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "constraints.txt"


def run(
    args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run a command outside the repository and capture its output."""
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def clean_env(**extra: str) -> dict[str, str]:
    """Return an environment without the repo's venv, PYTHONPATH or any KIOSK_/CLINIC_ setting."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KIOSK_", "CLINIC_", "PYTHON", "VIRTUAL_ENV"))
    }
    keep["PATH"] = os.pathsep.join(
        p for p in keep.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT))
    )
    keep.update(extra)
    return keep


#: Debian's own Python, as docs/deploy.md installs with (readable by every user, unlike a
#: Python under root's home); the running interpreter where there is none.
SYSTEM_PYTHON = Path("/usr/bin/python3.11")


def make_venv(directory: Path, requirement: str) -> Path:
    """Create a venv in `directory` and pip-install `requirement` at the pinned versions."""
    base = str(SYSTEM_PYTHON) if SYSTEM_PYTHON.exists() else sys.executable
    made = run([base, "-m", "venv", str(directory)], cwd=directory.parent, env=clean_env())
    assert made.returncode == 0, made.stderr
    python = directory / "bin" / "python"
    done = run(
        # No .pyc compilation: it is most of the install time, and Python compiles on import.
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-compile",
            "--disable-pip-version-check",
            "-c",
            str(CONSTRAINTS),
            requirement,
        ],
        cwd=directory.parent,
        env=clean_env(),
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return directory


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the sdist, then the wheel from it (proving the sdist is complete), once."""
    out = tmp_path_factory.mktemp("dist")
    done = run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], cwd=out)
    assert done.returncode == 0, done.stderr[-3000:]
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="session")
def venvs(wheel: Path) -> Iterator[dict[str, Path]]:
    """Install [kiosk] and [server] into two fresh venvs, side by side (pip waits on I/O).

    They live in a world-readable temporary directory, like /opt, so that the cage session
    test can run the kiosk as an unprivileged user.
    """
    top = Path(tempfile.mkdtemp(prefix="deploy-venvs-"))
    top.chmod(0o755)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {
                extra: pool.submit(make_venv, top / extra, f"{wheel}[{extra}]")
                for extra in ("kiosk", "server")
            }
            yield {extra: future.result() for extra, future in futures.items()}
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="session")
def kiosk_venv(venvs: dict[str, Path]) -> Path:
    return venvs["kiosk"]


@pytest.fixture(scope="session")
def server_venv(venvs: dict[str, Path]) -> Path:
    return venvs["server"]
