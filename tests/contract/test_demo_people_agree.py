"""The demo server's and the demo kiosk's synthetic people are the same people.

clinic/demo.py seeds the server, kiosk/demo.py the kiosk without a server (and says what each
person exercises); neither may import the other (decision 0005), so this test keeps the two
lists in step: a person changed in one file only would leave a demo where the kiosk and the
dashboard disagree about who has an appointment.
"""

from __future__ import annotations

from dataclasses import fields

from clinic import demo as server_demo
from kiosk import demo as kiosk_demo


def test_both_demos_hold_the_same_people_with_the_same_appointments() -> None:
    shared = [f.name for f in fields(server_demo.DemoPerson) if f.name != "already_arrived"]
    assert set(shared) <= {f.name for f in fields(kiosk_demo.DemoPerson)}

    def rows(people: tuple[object, ...]) -> list[tuple[object, ...]]:
        return [tuple(getattr(p, name) for name in shared) for p in people]

    assert rows(server_demo.DEMO_PEOPLE) == rows(kiosk_demo.DEMO_PEOPLE)
