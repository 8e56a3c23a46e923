"""The demo seed at any time of day, the docs that list it, and imports without Kivy."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from kiosk_core_helpers import Clock

from kiosk.config import KioskSettings
from kiosk.demo import DEMO_NO_APPOINTMENT, DEMO_PEOPLE
from kiosk.facade import MatchStatus
from kiosk.services import Kiosk

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 3, 10, 0, 3, tzinfo=UTC),
        datetime(2026, 3, 10, 6, 0, tzinfo=UTC),
        datetime(2026, 3, 10, 23, 57, tzinfo=UTC),
    ],
    ids=["just-after-midnight", "morning", "just-before-midnight"],
)
def test_demo_people_inside_the_window_at_any_time(tmp_path, moment: datetime) -> None:
    clock = Clock(now=moment)
    settings = KioskSettings.load(environ={}, demo=True, data_dir=tmp_path)
    kiosk = Kiosk.open(settings, clock=clock, monotonic=clock.monotonic)
    for person in DEMO_PEOPLE:
        phone = person.phone_last4 if person.last_name == "Smith" else None
        status = kiosk.find_appointment(person.last_name, person.date_of_birth, phone).status
        if person.expected in (MatchStatus.MATCHED, MatchStatus.ALREADY_CHECKED_IN):
            assert status is person.expected, person.key
    for _first, last, dob in DEMO_NO_APPOINTMENT:
        assert kiosk.find_appointment(last, dob).status is MatchStatus.NO_MATCH
    kiosk.close()


def test_demo_in_another_time_zone(tmp_path) -> None:
    clock = Clock(now=datetime(2026, 3, 10, 4, 30, tzinfo=UTC))  # 23:30 the day before, Chicago
    settings = KioskSettings.load(
        environ={}, demo=True, data_dir=tmp_path, timezone="America/Chicago"
    )
    kiosk = Kiosk.open(settings, clock=clock, monotonic=clock.monotonic)
    okafor = next(p for p in DEMO_PEOPLE if p.key == "okafor")
    match = kiosk.find_appointment(okafor.last_name, okafor.date_of_birth)
    assert match.status is MatchStatus.MATCHED
    assert kiosk.check_in(match.appointment_ref, "es").queue_number == "A002"
    kiosk.close()


def test_demo_doc_lists_every_demo_person() -> None:
    doc = (ROOT / "docs" / "kiosk-demo.md").read_text("utf-8")
    for person in DEMO_PEOPLE:
        assert f"{person.first_name} {person.last_name}" in doc
        assert person.date_of_birth.isoformat() in doc
        if person.phone_last4:
            assert person.phone_last4 in doc
    for first, last, dob in DEMO_NO_APPOINTMENT:
        assert f"{first} {last}" in doc and dob.isoformat() in doc


def test_config_doc_sample_loads(tmp_path) -> None:
    doc = (ROOT / "docs" / "kiosk-config.md").read_text("utf-8")
    sample = re.search(r"```toml\n(.*?)```", doc, re.S)
    assert sample is not None
    data = tomllib.loads(sample.group(1))["kiosk"]
    data["admin_pin_hash"] = PasswordHasher(time_cost=1, memory_cost=1024).hash("837261")
    data["data_dir"] = str(tmp_path)
    data.pop("logo_path")
    settings = KioskSettings.load(environ={}, **data)
    assert settings.demo is False and settings.kiosk_letter == "B"
    assert [name for name in data if f"`{name}`" not in doc] == []  # every key documented


def test_kiosk_core_imports_without_kivy() -> None:
    code = (
        "import sys\n"
        "import kiosk.services, kiosk.demo, kiosk.store, kiosk.benchmarks, kiosk.validation\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'kivy'], 'kivy imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_a_paired_demo_kiosk_keeps_the_servers_data(tmp_path) -> None:
    from kiosk_core_helpers import NOON, Person, load_people

    from kiosk.state import StateKey, set_state

    clock = Clock()
    settings = KioskSettings.load(environ={}, demo=True, data_dir=tmp_path)
    kiosk = Kiosk.open(settings, clock=clock, monotonic=clock.monotonic)
    load_people(kiosk, [Person("srv-1", "Server", date(1990, 1, 1), NOON)])  # a real pull
    with kiosk.db.write() as session:
        set_state(StateKey.KIOSK_TOKEN, "paired-token", session=session)
    kiosk.close()
    reopened = Kiosk.open(settings, clock=clock, monotonic=clock.monotonic)
    assert reopened.find_appointment("Server", date(1990, 1, 1)).status is MatchStatus.MATCHED
    assert reopened.find_appointment("Okafor", date(1984, 3, 12)).status is MatchStatus.NO_MATCH
    reopened.close()
