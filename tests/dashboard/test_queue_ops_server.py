"""Queue operations' state machine and the wait estimator, on SQLite and PostgreSQL.

Every test uses its own injected clock in its own far-apart day, so the shared database's
other rows never fall in its 18-hour queue span or its 28-day history window.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from clinic import calling, waits
from clinic.calling import QueueAction, TransitionRefused
from clinic.config import Settings
from clinic.db import Database
from clinic.models import Appointment, Arrival, ArrivalStatus

UTC_ZONE = ZoneInfo("UTC")


def _settings() -> Settings:
    return Settings(database_url="sqlite://", environment="test", timezone="UTC")


def _appointment(session, ref: str, clinician: str, starts_at: datetime) -> Appointment:
    row = Appointment(
        ref=ref,
        first_name="Test",
        last_name=f"Patient{ref}",
        date_of_birth=date(1980, 1, 1),
        starts_at=starts_at,
        clinician=clinician,
    )
    session.add(row)
    session.flush()
    return row


def _arrival(session, number: str, arrived_at: datetime, appointment=None, **extra) -> Arrival:
    row = Arrival(
        id=uuid.uuid4(),
        queue_number=number,
        arrived_at=arrived_at,
        walk_in=appointment is None,
        appointment_id=appointment.id if appointment is not None else None,
        appointment_ref=appointment.ref if appointment is not None else None,
        first_name="Walk" if appointment is None else None,
        last_name="In" if appointment is None else None,
        reason="Cough" if appointment is None else None,
        status=ArrivalStatus.WAITING,
        **extra,
    )
    session.add(row)
    session.flush()
    return row


def test_queue_state_machine(dash_db: Database) -> None:
    now = datetime(2031, 3, 4, 10, 0, tzinfo=UTC)
    settings = _settings()
    tag = uuid.uuid4().hex[:6]
    with dash_db.writer.begin() as session:
        ash = _appointment(session, f"{tag}-1", f"Dr Ash {tag}", now + timedelta(minutes=10))
        birch_late = _appointment(
            session, f"{tag}-2", f"Dr Birch {tag}", now + timedelta(minutes=30)
        )
        birch_early = _appointment(
            session, f"{tag}-3", f"Dr Birch {tag}", now + timedelta(minutes=5)
        )
        a1 = _arrival(session, "Q001", now - timedelta(minutes=20), ash)
        b_late = _arrival(session, "Q002", now - timedelta(minutes=15), birch_late)
        b_early = _arrival(session, "Q003", now - timedelta(minutes=5), birch_early)
        walk = _arrival(session, "Q004", now - timedelta(minutes=25))
        ids = {"a1": a1.id, "b_late": b_late.id, "b_early": b_early.id, "walk": walk.id}
    with dash_db.writer.begin() as session:
        assert calling.waiting_count(session=session, settings=settings, now=now) == 4
        # Dr Birch's next is the earlier appointment, although that patient arrived later.
        called = calling.call_next(
            session=session, settings=settings, now=now, clinician=f"Dr Birch {tag}", room="Room 3"
        )
        assert called is not None and called.id == ids["b_early"]
        assert (called.status, called.room, called.call_count) == ("called_in", "Room 3", 1)
        walk_in = calling.call_next(
            session=session,
            settings=settings,
            now=now + timedelta(minutes=1),
            clinician="",
            room="Room 1",
        )
        assert walk_in is not None and walk_in.id == ids["walk"]
    with dash_db.writer.begin() as session:
        arrival = session.get(Arrival, ids["b_early"])
        first_call = arrival.called_at
        calling.apply(arrival, QueueAction.RECALL, session=session, now=now + timedelta(minutes=3))
        assert arrival.call_count == 2 and arrival.last_called_at == now + timedelta(minutes=3)
        assert arrival.called_at == first_call  # the wait ended at the first call
        shown = calling.display_calls(session=session, now=now + timedelta(minutes=4))
        assert [(c.queue_number, c.room) for c in shown][:2] == [
            ("Q003", "Room 3"),
            ("Q004", "Room 1"),
        ]
        assert calling.waiting_count(session=session, settings=settings, now=now) == 2
        # Refused transitions change nothing.
        waiting = session.get(Arrival, ids["a1"])
        with pytest.raises(TransitionRefused):
            calling.apply(waiting, QueueAction.RECALL, session=session, now=now)
        with pytest.raises(TransitionRefused):
            calling.apply(waiting, QueueAction.BACK_TO_WAITING, session=session, now=now)
        assert waiting.status == "waiting" and waiting.call_count == 0
        # Seen is distinct from called: it keeps the call time and adds its own.
        calling.apply(arrival, QueueAction.SEEN, session=session, now=now + timedelta(minutes=20))
        assert arrival.status == "seen" and arrival.called_at == first_call
        assert arrival.seen_at == now + timedelta(minutes=20)
        with pytest.raises(TransitionRefused):
            calling.apply(arrival, QueueAction.CALL, session=session, now=now)
        # Sent back to waiting: room and call cleared, off the display.
        walker = session.get(Arrival, ids["walk"])
        calling.apply(
            walker, QueueAction.BACK_TO_WAITING, session=session, now=now + timedelta(minutes=5)
        )
        assert (walker.status, walker.room, walker.called_at) == ("waiting", None, None)
        shown = calling.display_calls(session=session, now=now + timedelta(minutes=6))
        assert "Q004" not in [c.queue_number for c in shown]
        # No-show, then the patient turns up after all.
        late = session.get(Arrival, ids["b_late"])
        calling.apply(late, QueueAction.NO_SHOW, session=session, now=now)
        calling.apply(late, QueueAction.BACK_TO_WAITING, session=session, now=now)
        assert late.status == "waiting"
        # Nobody left in Dr Ash's queue after calling the one patient.
        assert (
            calling.call_next(
                session=session, settings=settings, now=now, clinician=f"Dr Ash {tag}", room=None
            )
            is not None
        )
        assert (
            calling.call_next(
                session=session, settings=settings, now=now, clinician=f"Dr Ash {tag}", room=None
            )
            is None
        )


def test_a_patient_who_arrived_before_midnight_is_still_called_after_it(dash_db: Database) -> None:
    settings = _settings()
    before = datetime(2032, 6, 1, 23, 50, tzinfo=UTC)
    with dash_db.writer.begin() as session:
        arrival = _arrival(session, "N001", before)
        arrival_id = arrival.id
    with dash_db.writer.begin() as session:
        after = before + timedelta(minutes=20)
        assert calling.waiting_count(session=session, settings=settings, now=after) == 1
        called = calling.call_next(
            session=session, settings=settings, now=after, clinician=None, room="Room 2"
        )
        assert called is not None and called.id == arrival_id


# ---------------------------------------------------------------------------------------
# The estimator (pure) and its database history
# ---------------------------------------------------------------------------------------
def _walk_in_history(now: datetime, days: int, per_place: float) -> list[waits.PastWait]:
    """Walk-ins seen round midnight on each of the previous nights, one place each."""
    out = []
    for d in range(1, days + 1):
        for minute in (-40, -25, -10, 5, 20):
            arrived = now - timedelta(days=d) + timedelta(minutes=minute)
            out.append(
                waits.PastWait(
                    waits.WALK_IN, arrived, None, arrived + timedelta(minutes=per_place), 0
                )
            )
    return out


def test_estimate_round_midnight_uses_the_nights_before() -> None:
    now = datetime(2033, 1, 10, 0, 5, tzinfo=UTC)  # five past midnight
    history = _walk_in_history(now, days=5, per_place=12)
    est = waits.estimate_wait(
        history, queue=waits.WALK_IN, now=now, tz=UTC_ZONE, place=3, fallback_minutes=99
    )
    assert est.from_history and est.samples == 25
    assert (est.low, est.high) == (36, 36)
    # At noon the same history is far in clock time: too few samples, so the fallback.
    noon = now.replace(hour=12)
    est = waits.estimate_wait(
        history, queue=waits.WALK_IN, now=noon, tz=UTC_ZONE, place=3, fallback_minutes=30
    )
    assert not est.from_history and (est.low, est.high) == (30, 45)
    # Outside the rolling 28-day window nothing counts.
    old = now + timedelta(days=40)
    assert not waits.estimate_wait(
        history, queue=waits.WALK_IN, now=old, tz=UTC_ZONE, fallback_minutes=5
    ).from_history


def test_estimate_for_a_booked_patient_adds_the_clinicians_lateness() -> None:
    now = datetime(2033, 2, 1, 9, 0, tzinfo=UTC)
    history = []
    for d in range(1, 15):
        starts = now - timedelta(days=d) + timedelta(minutes=20)
        for i, late in enumerate((10, 15, 20)):
            history.append(
                waits.PastWait(
                    "Dr Ash",
                    starts - timedelta(minutes=10),
                    starts,
                    starts + timedelta(minutes=late + i * 0),
                    0,
                )
            )
    est = waits.estimate_wait(
        history,
        queue="Dr Ash",
        now=now,
        tz=UTC_ZONE,
        starts_at=now + timedelta(minutes=20),
        fallback_minutes=5,
    )
    # 20 minutes until the appointment, then a median lateness of 15 (90th: 20).
    assert est.from_history and (est.low, est.high) == (35, 40)
    # Someone already 18 minutes past their appointment: only samples that ran that late.
    est = waits.estimate_wait(
        history,
        queue="Dr Ash",
        now=now,
        tz=UTC_ZONE,
        arrived_at=now - timedelta(minutes=30),
        starts_at=now - timedelta(minutes=18),
        fallback_minutes=5,
    )
    assert est.from_history and (est.low, est.high) == (2, 2)


def test_history_from_the_database_and_the_range_for_a_waiting_patient(dash_db: Database) -> None:
    now = datetime(2034, 5, 6, 0, 10, tzinfo=UTC)  # just after midnight
    tag = uuid.uuid4().hex[:6]
    with dash_db.writer.begin() as session:
        for d in range(1, 8):
            for minute in (-30, -15, 0, 15):
                arrived = now - timedelta(days=d) + timedelta(minutes=minute)
                row = _arrival(session, f"H{d}", arrived)
                row.status = ArrivalStatus.SEEN
                row.called_at = arrived + timedelta(minutes=8)
        first = _arrival(session, f"W{tag[:3]}1", now - timedelta(minutes=15))  # arrived 23:55
        second = _arrival(session, f"W{tag[:3]}2", now - timedelta(minutes=5))
        second_id = second.id
        assert first.id != second_id
    with dash_db.reader() as session:
        history = waits.load_history(session=session, now=now, use_cache=False)
        mine = [p for p in history if now - timedelta(days=8) < p.arrived_at < now]
        assert len(mine) == 28 and all(p.queue == waits.WALK_IN for p in mine)
        arrival = session.get(Arrival, second_id)
        est = waits.range_for_arrival(
            session=session, arrival=arrival, now=now, tz=UTC_ZONE, fallback_minutes=99
        )
        # Second in the walk-in queue, 8 minutes a place in the nights before.
        assert est is not None and est.from_history and (est.low, est.high) == (16, 16)
        # The dashboard's score: each of the 28 replayed as at its arrival. The last nights'
        # were estimated from the nights before (8 min, exactly right); the first nights'
        # from the fallback of 30 min a place (22 min off, and never past the top).
        score = waits.recent_accuracy(session=session, now=now, tz=UTC_ZONE, fallback_minutes=30)
        assert score.scored == 28 and score.over_top_share == 0
        assert score.median_abs_error_minutes == 0
    waits.clear_cache()


def test_a_moving_queue_is_estimated_from_the_visit_in_progress_and_the_places_ahead() -> None:
    now = datetime(2033, 3, 1, 19, 0, tzinfo=UTC)
    history = []
    # The nights before: walk-ins seen back to back, 10 minutes each.
    for d in range(1, 4):
        start = now - timedelta(days=d) - timedelta(minutes=50)
        for i in range(8):
            history.append(
                waits.PastWait(
                    waits.WALK_IN,
                    start - timedelta(minutes=5),
                    None,
                    start + timedelta(minutes=10 * i),
                    i,
                )
            )
    # Today the nurse called someone 4 minutes ago.
    history.append(
        waits.PastWait(
            waits.WALK_IN, now - timedelta(minutes=30), None, now - timedelta(minutes=4), 0
        )
    )
    est = waits.estimate_wait(
        history, queue=waits.WALK_IN, now=now, tz=UTC_ZONE, place=3, fallback_minutes=99
    )
    # 6 minutes left of the visit in progress, then two visits of 10 minutes.
    assert est.from_history and (est.low, est.high) == (26, 26)
    # Three hours later: no visit in progress and no history at that hour, so the fallback.
    later = now + timedelta(hours=3)
    quiet = waits.estimate_wait(
        history, queue=waits.WALK_IN, now=later, tz=UTC_ZONE, place=3, fallback_minutes=99
    )
    assert not quiet.from_history and quiet.low == 99
