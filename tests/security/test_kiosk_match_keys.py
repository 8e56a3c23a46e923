"""What a kiosk token gets from the pull, and that a real kiosk still matches with it.

Over HTTP to a real server process (SQLite and PostgreSQL): the pull carries only the
day's salt and argon2id keys of today's appointments (no clinic secret, no names, no other
day), phone keys only where two appointments collide, and the kiosk's own
`find_appointment` matches a patient with them (ambiguous twins told apart by phone).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from security_helpers import KioskClient, scalar, signed_in_admin
from serverproc import ServerProcess
from sqlalchemy import func, select

from kiosk.config import KioskSettings
from kiosk.facade import MatchStatus
from kiosk.models import Appointment as KioskAppointmentRow
from kiosk.purge import purge
from kiosk.services import Kiosk
from kiosk.state import StateKey, get_state
from kiosk.store import apply_pull
from sync.protocol import PULL_PATH, KioskPull, MatchKdf, derive_match_secret, match_day_salt


def _production_settings(server: ServerProcess, tmp_path: Path) -> KioskSettings:
    """Return a production kiosk's settings (server URL and a staff PIN hash, no demo)."""
    pin_hash = PasswordHasher(time_cost=1, memory_cost=1024).hash("837261")
    return KioskSettings(
        data_dir=tmp_path / "kiosk", server_url=server.url, admin_pin_hash=pin_hash
    )


def _pull(kiosk: KioskClient) -> dict[str, Any]:
    answer = kiosk.http.get(kiosk.server.url + PULL_PATH, timeout=30)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _import_day(server: ServerProcess, day: date) -> None:
    http, csrf = signed_in_admin(server)
    noon = datetime.combine(day, time(12, 0), tzinfo=UTC).isoformat()
    tomorrow = datetime.combine(day + timedelta(days=1), time(12, 0), tzinfo=UTC).isoformat()
    csv = (
        "ref,first_name,last_name,date_of_birth,starts_at,clinician,phone\n"
        f"twin-a,Maren,Ostrowe,1980-02-03,{noon},Dr. A,+1 555 010 1111\n"
        f"twin-b,Milo,Ostrowe,1980-02-03,{noon},Dr. B,+1 555 010 2222\n"
        f"alone,Iona,Brackwater,1955-11-30,{noon},Dr. A,+1 555 010 3333\n"
        f"next-day,Pell,Tamsworth,1990-06-07,{tomorrow},Dr. A,\n"
    )
    answer = http.post(
        server.url + "/api/admin/appointments/import",
        data=csv.encode(),
        headers={"X-CSRF-Token": csrf, "Content-Type": "text/csv"},
        timeout=120,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["created"] + answer.json()["updated"] == 4, answer.text


def test_kiosk_pull_holds_only_todays_salt_and_keys(
    clinic_server: ServerProcess, tmp_path: Path
) -> None:
    token_holder = KioskClient(clinic_server, "front")
    for _attempt in range(2):  # at midnight the server's day may turn between two requests
        day = MatchKdf.model_validate(_pull(token_holder)["match_kdf"]).day
        _import_day(clinic_server, day)
        raw = token_holder.http.get(clinic_server.url + PULL_PATH, timeout=30)
        pull = raw.json()
        kdf = MatchKdf.model_validate(pull["match_kdf"])
        if kdf.day == day:
            break
    else:
        raise AssertionError("the server's clinic day kept changing")
    pepper = bytes.fromhex(str(scalar(clinic_server, "SELECT hash_key FROM clinic_settings")))
    assert kdf.salt == match_day_salt(pepper, day)
    assert pepper.hex() not in raw.text and "hash_key" not in pull
    for name in ("Ostrowe", "Brackwater", "Tamsworth", "Maren", "1980-02-03"):
        assert name not in raw.text
    by_ref = {a["ref"]: a for a in pull["appointments"]}
    assert set(by_ref) == {"twin-a", "twin-b", "alone"}  # not tomorrow's
    twins = derive_match_secret(kdf, "Ostrowe", date(1980, 2, 3))
    assert by_ref["twin-a"]["match_key"] == by_ref["twin-b"]["match_key"] == twins.match_key
    assert by_ref["twin-a"]["phone_key"] == twins.phone_key("1111")
    assert by_ref["twin-b"]["phone_key"] == twins.phone_key("2222")
    assert by_ref["alone"]["phone_key"] is None  # no collision: no phone digits to guess
    # Keys were derived at import and stored; the pull only read them.
    stored = scalar(clinic_server, "SELECT match_key FROM appointments WHERE ref = 'alone'")
    assert stored == by_ref["alone"]["match_key"]

    # A real kiosk, clock at noon of that day, matches with what the token brought.
    kiosk = Kiosk.open(
        _production_settings(clinic_server, tmp_path),
        clock=lambda: datetime.combine(day, time(12, 0), tzinfo=UTC),
        seed_demo=False,  # holds only what the server sent
    )
    try:
        with kiosk.db.write() as session:
            apply_pull(KioskPull.model_validate(pull), session=session)
        assert kiosk.find_appointment("Brackwater", date(1955, 11, 30)).status is (
            MatchStatus.MATCHED
        )
        assert kiosk.find_appointment("Ostrowe", date(1980, 2, 3)).status is (MatchStatus.AMBIGUOUS)
        second = kiosk.find_appointment("Ostrowe", date(1980, 2, 3), "2222")
        assert second.status is MatchStatus.MATCHED and second.appointment_ref == "twin-b"
        assert kiosk.find_appointment("Tamsworth", date(1990, 6, 7)).status is (
            MatchStatus.NO_MATCH
        )
    finally:
        kiosk.close()

    # The next day's kiosk does not match with this day's keys, even offline, and its purge
    # erases them and the salt from the disk.
    next_noon = datetime.combine(day + timedelta(days=1), time(12, 0), tzinfo=UTC)
    later = Kiosk.open(
        _production_settings(clinic_server, tmp_path), clock=lambda: next_noon, seed_demo=False
    )
    try:
        assert later.find_appointment("Brackwater", date(1955, 11, 30)).status is (
            MatchStatus.NO_MATCH
        )
        purge(later.db.engine, later.db.sessions, tz=later.settings.tz, now=next_noon)
        with later.db.read_session() as session:
            assert get_state(StateKey.MATCH_KDF, session=session) is None
            assert session.scalar(select(func.count()).select_from(KioskAppointmentRow)) == 0
    finally:
        later.close()
    disk = b"".join(p.read_bytes() for p in (tmp_path / "kiosk").iterdir() if p.is_file())
    assert kdf.salt.encode() not in disk and twins.match_key.encode() not in disk
