"""Compound surnames: a patient typing one surname alone is found, through a real server.

Over HTTP to a real server process (SQLite and PostgreSQL): appointments imported with
two-part, hyphenated and accented surnames get a match key for each surname part; the pull
carries those keys (never the names), phone keys where a part collides with another
appointment's surname, and a real kiosk's `find_appointment` matches what patients type.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

from argon2 import PasswordHasher
from security_helpers import KioskClient, signed_in_admin
from serverproc import ServerProcess

from kiosk.config import KioskSettings
from kiosk.facade import MatchStatus
from kiosk.services import Kiosk
from kiosk.store import apply_pull
from sync.protocol import PULL_PATH, KioskPull, MatchKdf, surname_variants

BORN = date(1971, 4, 9)


def _import(server: ServerProcess, day: date) -> None:
    http, csrf = signed_in_admin(server)
    noon = datetime.combine(day, time(12, 0), tzinfo=UTC).isoformat()
    csv = (
        "ref,first_name,last_name,date_of_birth,starts_at,clinician,phone\n"
        f"compound,Lucía,García López,{BORN},{noon},Dr. A,+34 600 000 111\n"
        f"plain,Pablo,Garcia,{BORN},{noon},Dr. B,+34 600 000 222\n"
        f"hyphen,Nora,Martín-Ruiz,1966-01-20,{noon},Dr. A,\n"
        f"particle,Tomás,de la Cruz,1999-12-31,{noon},Dr. A,\n"
        f"short,Ike,Okonkwo,1980-05-05,{noon},Dr. B,\n"
    )
    answer = http.post(
        server.url + "/api/admin/appointments/import",
        data=csv.encode(),
        headers={"X-CSRF-Token": csrf, "Content-Type": "text/csv"},
        timeout=120,
    )
    assert answer.status_code == 200, answer.text


def test_surname_parts_match_on_a_real_kiosk(clinic_server: ServerProcess, tmp_path: Path) -> None:
    holder = KioskClient(clinic_server, "parts")
    for _attempt in range(2):  # at midnight the server's day may turn between requests
        day = MatchKdf.model_validate(
            holder.http.get(clinic_server.url + PULL_PATH).json()["match_kdf"]
        ).day
        _import(clinic_server, day)
        raw = holder.http.get(clinic_server.url + PULL_PATH, timeout=30)
        assert raw.status_code == 200, raw.text
        pull = KioskPull.model_validate(raw.json())
        if pull.match_kdf.day == day:
            break
    else:
        raise AssertionError("the server's clinic day kept changing")
    for text in ("Garc", "Lopez", "López", "Ruiz", "Cruz", "Okonkwo", "1971-04-09"):
        assert text not in raw.text
    by_ref = {a.ref: a for a in pull.appointments}
    assert len(by_ref["compound"].part_keys) == 2  # garcia, lopez
    assert len(by_ref["hyphen"].part_keys) == 2  # martin, ruiz
    assert len(by_ref["particle"].part_keys) == 1  # cruz ("de", "la" are no surname)
    assert by_ref["short"].part_keys == []
    # "garcia" is both Pablo's whole surname and a part of Lucía's: both carry phone keys
    # for it, and nothing else carries one.
    assert by_ref["plain"].phone_key is not None
    assert [p.phone_key is not None for p in by_ref["compound"].part_keys] == [True, False]
    assert by_ref["compound"].phone_key is None

    kiosk = Kiosk.open(
        KioskSettings(
            data_dir=tmp_path / "kiosk",
            server_url=clinic_server.url,
            admin_pin_hash=PasswordHasher(time_cost=1, memory_cost=1024).hash("837261"),
        ),
        clock=lambda: datetime.combine(day, time(12, 0), tzinfo=UTC),
        seed_demo=False,
    )
    try:
        with kiosk.db.write() as session:
            apply_pull(pull, session=session)

        def found(last_name: str, born: date, phone: str | None = None) -> tuple[str, str | None]:
            match = kiosk.find_appointment(last_name, born, phone)
            return match.status.value, match.appointment_ref

        matched = MatchStatus.MATCHED.value
        for typed in ("García López", "GARCIA LOPEZ", "Garcia-Lopez", "garcialopez", "López"):
            assert found(typed, BORN) == (matched, "compound"), typed
        # "GARCIA" alone is Pablo's whole surname and Lucía's first: the phone decides.
        assert found("GARCIA", BORN)[0] == MatchStatus.AMBIGUOUS.value
        assert found("GARCIA", BORN, "0111") == (matched, "compound")
        assert found("García", BORN, "0222") == (matched, "plain")
        assert found("GARCIA", BORN, "9999")[0] == MatchStatus.NO_MATCH.value
        assert found("Ruiz", date(1966, 1, 20)) == (matched, "hyphen")
        assert found("MARTIN RUIZ", date(1966, 1, 20)) == (matched, "hyphen")
        assert found("Cruz", date(1999, 12, 31)) == (matched, "particle")
        assert found("De La Cruz", date(1999, 12, 31)) == (matched, "particle")
        assert found("de", date(1999, 12, 31))[0] == MatchStatus.NO_MATCH.value
        # Typed two surnames, booked with one: each typed part is tried in turn.
        assert found("Okonkwo Eze", date(1980, 5, 5)) == (matched, "short")
        # A part with the wrong birth date matches nobody.
        assert found("López", date(1971, 4, 10))[0] == MatchStatus.NO_MATCH.value
    finally:
        kiosk.close()


def test_surname_variants_fold_parts_and_drop_particles() -> None:
    assert surname_variants("García López") == ["garcialopez", "garcia", "lopez"]
    assert surname_variants("Garcia-Lopez") == ["garcialopez", "garcia", "lopez"]
    assert surname_variants("GARCIA") == ["garcia"]
    assert surname_variants("de la Cruz") == ["delacruz", "cruz"]
    assert surname_variants("van der Berg") == ["vanderberg", "berg"]
    assert surname_variants("O'Brien-Walsh") == ["obrienwalsh", "obrien", "walsh"]
    assert surname_variants("Nguyễn") == ["nguyen"]
    assert surname_variants("  ") == []
    assert len(surname_variants("A-Bb-Cc-Dd-Ee-Ff")) == 4
