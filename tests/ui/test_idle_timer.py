"""The idle timer decides when to warn and when to reset (no Kivy, a stepped clock)."""

from __future__ import annotations

from kiosk.idle import IdlePhase, IdleTimer, PatientSession


class Steps:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rests_until_touched_then_warns_then_expires_once() -> None:
    clock = Steps()
    idle = IdleTimer(60, 10, now=clock)
    clock.now += 1000
    assert idle.tick() == IdlePhase.RESTING  # nobody there: nothing to reset
    idle.touch()
    clock.now += 59.9
    assert idle.tick() == IdlePhase.IN_USE
    clock.now += 0.2
    assert idle.tick() == IdlePhase.COUNTDOWN
    assert 9.8 < idle.seconds_left() <= 10
    clock.now += 9
    assert idle.tick() == IdlePhase.COUNTDOWN
    assert idle.seconds_left() < 1.0
    clock.now += 1
    assert idle.tick() == IdlePhase.EXPIRED
    assert idle.tick() == IdlePhase.RESTING  # expires once, then rests


def test_a_touch_during_the_countdown_cancels_it() -> None:
    clock = Steps()
    idle = IdleTimer(5, 3, now=clock)
    idle.touch()
    clock.now += 6
    assert idle.tick() == IdlePhase.COUNTDOWN
    idle.touch()
    assert idle.tick() == IdlePhase.IN_USE
    assert idle.seconds_left() == 3


def test_disarm_stops_watching() -> None:
    clock = Steps()
    idle = IdleTimer(5, 3, now=clock)
    idle.touch()
    idle.disarm()
    clock.now += 100
    assert idle.tick() == IdlePhase.RESTING


def test_patient_session_knows_when_it_is_empty() -> None:
    session = PatientSession()
    assert session.is_empty()
    session.last_name = "Okafor"
    assert not session.is_empty()
