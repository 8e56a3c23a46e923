"""The sync mark follows the outbox when the kiosk says it changed, not by polling."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.ui


def test_sync_mark_follows_a_saved_record_at_the_next_frame(ui: Any, kiosk: Any) -> None:
    from kiosk import syncing

    assert ui.app.SYNC_REFRESH_SECONDS >= 60  # no 2 s poll left to do the work
    # The worker's attempts against the unreachable test server (and the start-up of a
    # fresh app) legitimately wake the mark too; this test measures the UI alone, so it
    # pauses the worker and waits for what it already set off to pass.
    assert syncing.stop_sync(kiosk)
    reads: list[int] = []
    original = kiosk.sync_status

    def counted() -> Any:
        reads.append(1)
        return original()

    kiosk.sync_status = counted
    try:
        quiet = 0

        def idle_frames() -> bool:
            nonlocal quiet
            seen = len(reads)
            ui.pump(1)
            quiet = quiet + 1 if len(reads) == seen else 0
            return quiet >= 10

        ui.pump_until(idle_frames, timeout=30)  # a mark read every frame never gets here
        reads.clear()
        before = ui.app.sync_pending
        ui.pump(5)
        assert reads == []  # idle frames read nothing
        kiosk.ask_question("Is the pharmacy open?", "en")  # a commit fires the trigger
        kiosk.ask_question("Where can I park?", "en")
        ui.pump_until(lambda: ui.app.sync_pending == before + 2)
        assert len(reads) == 1  # two commits in one frame: one read
        # Offline: the mark says the records are safe here; counts are for staff only.
        assert ui.app.top_bar.ids.sync_mark.text == "Saved on this kiosk"
    finally:
        del kiosk.sync_status
        assert syncing.start_sync(kiosk)
