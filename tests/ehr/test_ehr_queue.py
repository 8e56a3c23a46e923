"""The outbound queue's rules on a real database (SQLite and PostgreSQL): lanes in order,
retry with capped backoff, refusals kept, give-up with the reason, one lease holder; and
the pure parts (backoff, ACK reading) on their own."""

from __future__ import annotations

import os
import random
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from clinic.db import make_engine, migrate
from clinic.ehr.hl7v2 import ack_result, build_ack
from clinic.ehr.models import EhrOutbox, EventKind, OutboxStatus
from clinic.ehr.queue import (
    TARGETS_INFO_KEY,
    Delivered,
    Refused,
    Retry,
    backoff_seconds,
    due_messages,
    enqueue,
    link_panel,
    record_result,
    take_lease,
)

NOW = datetime(2026, 3, 2, 23, 59, 30, tzinfo=UTC)  # a minute before midnight, on purpose
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def writer(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'q.db'}"
        admin = None
    else:
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        name = f"clinic_ehr_{secrets.token_hex(4)}"
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        except sa.exc.OperationalError as exc:
            if os.environ.get("REQUIRE_POSTGRES") == "1":
                pytest.fail(f"PostgreSQL required: {exc}")
            pytest.skip(f"PostgreSQL not available: {type(exc).__name__}")
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    migrate(url)
    engine = make_engine(url)
    yield sessionmaker(
        engine.execution_options(sqlite_begin_immediate=True),
        expire_on_commit=False,
        info={TARGETS_INFO_KEY: ("fhir", "hl7")},
    )
    engine.dispose()
    if admin is not None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _queue(writer: sessionmaker[Session], lane: str, event: EventKind, at: datetime) -> None:
    with writer.begin() as session:
        enqueue(
            session=session,
            event=event,
            patient_key=lane,
            payload={"arrival_id": lane, "at": at.isoformat()},
            now=at,
            targets=["fhir"],
        )


def _record(
    writer: sessionmaker[Session],
    message_id: int,
    result: Delivered | Refused | Retry,
    now: datetime,
) -> None:
    with writer.begin() as session:
        message = session.get(EhrOutbox, message_id)
        assert message is not None
        record_result(
            session=session,
            message=message,
            result=result,
            now=now,
            base=1.0,
            cap=60.0,
            give_up_after=3600.0,
        )


def test_lanes_go_in_order_and_a_backing_off_head_holds_only_its_lane(
    writer: sessionmaker[Session],
) -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    _queue(writer, a, EventKind.ARRIVED, NOW)
    _queue(writer, a, EventKind.CALLED_IN, NOW)
    _queue(writer, b, EventKind.ARRIVED, NOW)
    with writer() as session:
        due = due_messages(session=session, target="fhir", now=NOW, limit=10)
        assert [(m.patient_key, m.event) for m in due] == [(a, "arrived"), (b, "arrived")]
        first_a = due[0].id
    _record(writer, first_a, Retry("FHIR 503"), NOW)
    with writer() as session:
        # a's head waits; a's second message may not overtake it; b goes on.
        due = due_messages(session=session, target="fhir", now=NOW, limit=10)
        assert [(m.patient_key, m.event) for m in due] == [(b, "arrived")]
        later = due_messages(session=session, target="fhir", now=NOW + timedelta(hours=1), limit=10)
        assert [(m.patient_key, m.event) for m in later] == [(a, "arrived"), (b, "arrived")]
    _record(writer, first_a, Delivered("ok"), NOW + timedelta(hours=1))
    with writer() as session:
        due = due_messages(session=session, target="fhir", now=NOW + timedelta(hours=1), limit=10)
        assert [(m.patient_key, m.event) for m in due] == [(a, "called_in"), (b, "arrived")]


def test_refused_is_kept_with_reason_and_does_not_block_its_lane(
    writer: sessionmaker[Session],
) -> None:
    lane = str(uuid.uuid4())
    _queue(writer, lane, EventKind.ARRIVED, NOW)
    _queue(writer, lane, EventKind.SEEN, NOW)
    with writer() as session:
        head = due_messages(session=session, target="fhir", now=NOW, limit=1)[0].id
    _record(writer, head, Refused("FHIR 422: Appointment status cannot go from x to y"), NOW)
    with writer() as session:
        refused = session.get(EhrOutbox, head)
        assert refused is not None and refused.status == OutboxStatus.REFUSED
        assert refused.last_error == "FHIR 422: Appointment status cannot go from x to y"
        assert [
            m.event for m in due_messages(session=session, target="fhir", now=NOW, limit=5)
        ] == ["seen"]
        [panel] = link_panel(session=session, targets=["fhir"])
        assert (panel.backlog, panel.refused) == (1, 1)
        assert panel.last_error is not None and "422" in panel.last_error


def test_gives_up_with_the_reason_after_the_allowed_time(writer: sessionmaker[Session]) -> None:
    lane = str(uuid.uuid4())
    _queue(writer, lane, EventKind.ARRIVED, NOW)
    with writer() as session:
        head = due_messages(session=session, target="fhir", now=NOW, limit=1)[0].id
    _record(writer, head, Retry("connection refused"), NOW + timedelta(minutes=10))
    with writer() as session:
        message = session.get(EhrOutbox, head)
        assert message is not None and message.status == OutboxStatus.PENDING
    _record(writer, head, Retry("connection refused"), NOW + timedelta(hours=2))
    with writer() as session:
        message = session.get(EhrOutbox, head)
        assert message is not None and message.status == OutboxStatus.GAVE_UP
        assert message.last_error is not None
        assert message.last_error.startswith("gave up after 2 attempts over 7200 s")
        assert message.last_error.endswith("connection refused")


def test_one_lease_holder_at_a_time(writer: sessionmaker[Session]) -> None:
    with writer.begin() as session:
        assert take_lease(session=session, target="fhir", owner="a", now=NOW, seconds=30)
    with writer.begin() as session:
        assert not take_lease(session=session, target="fhir", owner="b", now=NOW, seconds=30)
        assert take_lease(session=session, target="fhir", owner="a", now=NOW, seconds=30)
    later = NOW + timedelta(seconds=31)
    with writer.begin() as session:
        assert take_lease(session=session, target="fhir", owner="b", now=later, seconds=30)


def test_backoff_doubles_is_capped_and_jittered() -> None:
    rng = random.Random(7)
    waits = [backoff_seconds(n, base=1.0, cap=60.0, rng=rng) for n in range(1, 12)]
    for attempt, wait in enumerate(waits, start=1):
        ceiling = min(60.0, 2 ** (attempt - 1))
        assert ceiling / 2 <= wait <= ceiling
    assert max(waits) <= 60.0 and waits[-1] >= 30.0
    assert len({round(w, 6) for w in waits[-4:]}) == 4  # jittered, not a fixed value


def test_ack_codes_map_to_delivered_refused_and_retry() -> None:
    def ack(code: str, text: str = "", acked: str = "m1") -> str:
        return build_ack(
            code=code, text=text, acked_control_id=acked, trigger="A10",
            their_application="KIOSK", their_facility="CLINIC", control_id="x1",
            now=NOW, sending_application="EHR", sending_facility="CLINIC",
        )  # fmt: skip

    assert ack_result(ack("AA"), "m1") == Delivered("HL7 AA")
    assert ack_result(ack("AE", "bad | field"), "m1") == Refused("HL7 AE: bad | field")
    assert ack_result(ack("AR"), "m1") == Refused("HL7 AR: no reason given")
    assert isinstance(ack_result(ack("AA", acked="other"), "m1"), Retry)
    assert isinstance(ack_result("not hl7 at all", "m1"), Retry)


def test_sent_messages_are_pruned_after_the_keep_period_refused_ones_stay(
    writer: sessionmaker[Session],
) -> None:
    from clinic.ehr.queue import prune_done

    for lane in ("a", "b", "c"):
        _queue(writer, lane, EventKind.ARRIVED, NOW)
    with writer() as session:
        ids = [m.id for m in due_messages(session=session, target="fhir", now=NOW, limit=5)]
    _record(writer, ids[0], Delivered("ok"), NOW)
    _record(writer, ids[1], Refused("FHIR 404"), NOW)
    _record(writer, ids[2], Delivered("ok"), NOW + timedelta(days=20))
    with writer.begin() as session:
        assert prune_done(session=session, target="fhir", before=NOW + timedelta(days=10)) == 1
    with writer() as session:
        left = {m.id: m.status for m in session.scalars(sa.select(EhrOutbox))}
    assert left == {ids[1]: "refused", ids[2]: "sent"}


def test_a_released_lease_is_free_at_once(writer: sessionmaker[Session]) -> None:
    from clinic.ehr.queue import release_leases

    with writer.begin() as session:
        assert take_lease(session=session, target="hl7", owner="a", now=NOW, seconds=30)
    with writer.begin() as session:
        release_leases(session=session, owner="a")
    with writer.begin() as session:
        assert take_lease(session=session, target="hl7", owner="b", now=NOW, seconds=30)
