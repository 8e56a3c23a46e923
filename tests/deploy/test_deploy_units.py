"""The shipped systemd units pass `systemd-analyze verify` and say what the docs promise.

verify runs against a throw-away root: the system's own units plus the shipped ones, with
the commands they start stubbed at their installed paths (the units name /opt/... and cage,
which this machine need not have). Any warning fails the test: verify exits 0 on unknown
values, so its output is checked too.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

UNITS = ROOT / "deploy" / "systemd"
SYSTEM_UNITS = Path("/usr/lib/systemd/system")


def fake_root(tmp_path: Path, units: dict[str, str]) -> Path:
    root = tmp_path / "root"
    shutil.copytree(SYSTEM_UNITS, root / SYSTEM_UNITS.relative_to("/"), symlinks=True)
    target = root / "etc" / "systemd" / "system"
    target.mkdir(parents=True)
    for name, text in units.items():
        (target / name).write_text(text, "utf-8")
        for line in text.splitlines():
            key, _, value = line.partition("=")
            if key.startswith("Exec") and value:
                command = root / value.lstrip("-@+!").split()[0].lstrip("/")
                command.parent.mkdir(parents=True, exist_ok=True)
                command.write_text("#!/bin/sh\n", "utf-8")
                command.chmod(0o755)
    return root


def verify(tmp_path: Path, units: dict[str, str]) -> subprocess.CompletedProcess[str]:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze missing: scripts/setup.sh installs Debian's systemd"
    root = fake_root(tmp_path, units)
    return subprocess.run(
        [analyze, "verify", f"--root={root}", *units],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def shipped() -> dict[str, str]:
    return {path.name: path.read_text("utf-8") for path in sorted(UNITS.iterdir())}


def test_shipped_units_verify_cleanly(tmp_path: Path) -> None:
    units = shipped()
    assert set(units) == {
        "clinic-server.service",
        "kiosk.service",
        "clinic-backup.service",
        "clinic-backup.timer",
    }
    done = verify(tmp_path, units)
    assert done.returncode == 0 and done.stdout == done.stderr == "", done.stderr


@pytest.mark.parametrize(
    ("line", "broken"), [("Type=notify", "Type=notfy"), ("Restart=always", "Restart=alwys")]
)
def test_verify_catches_a_broken_unit(tmp_path: Path, line: str, broken: str) -> None:
    units = shipped()
    units["kiosk.service"] = units["kiosk.service"].replace(line, broken)
    done = verify(tmp_path, units)
    assert done.stderr, "a broken unit passed verify: the check above proves nothing"


def service(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(shipped()[name])
    return parser["Service"]


def test_both_ends_restart_always_and_the_kiosk_has_a_watchdog() -> None:
    kiosk, server = service("kiosk.service"), service("clinic-server.service")
    assert kiosk["Restart"] == server["Restart"] == "always"
    assert kiosk["Type"] == "notify" and kiosk["NotifyAccess"] == "all"
    assert int(kiosk["WatchdogSec"]) > 0
    # cage without -s: no switching to another virtual terminal, no desktop behind it.
    assert kiosk["ExecStart"].startswith("/usr/bin/cage -- ") and " -s" not in kiosk["ExecStart"]
    assert server["ExecStartPre"].endswith("clinic-server check")
    assert "clinic-server backup" in service("clinic-backup.service")["ExecStart"]
