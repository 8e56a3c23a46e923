"""Staff corner: server URL, pairing, sync status, default language, idle timeout, exit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from babel.dates import format_datetime
from kivy.clock import Clock, mainthread
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from kiosk.clockcheck import warning_msgid
from kiosk.facade import N_, KioskError
from kiosk.i18n import _
from screens.base import KioskScreen, load_kv


class AdminScreen(KioskScreen):
    """Settings a clinic admin may change at the kiosk; closed again by the idle reset."""

    server_url = StringProperty("")
    pairing_code = StringProperty("")
    default_language = StringProperty("")
    idle_timeout = StringProperty("")
    message_msgid = StringProperty("")
    pairing_busy = BooleanProperty(False)
    pending = NumericProperty(0)
    failed = NumericProperty(0)
    last_success = StringProperty("")
    paired = BooleanProperty(False)
    revoked = BooleanProperty(False)
    last_failure = StringProperty("")
    clock_warning = StringProperty("")  # msgid from kiosk.clockcheck, with {minutes}
    clock_minutes = NumericProperty(0)
    patient_fields = ("pairing_code", "message_msgid")

    @property
    def full_height(self) -> bool:  # type: ignore[override]
        """Take the top bar's room on a short screen with larger text or while typing.

        At 800x480 the settings, the sync status and the keyboard do not fit under the top
        bar then (a field and the button next to it, Pair, must both show above the keys);
        Close leads back to the screens with it.
        """
        return bool(self.app.large_text or self.app.keyboard_visible)

    def on_activate(self) -> None:
        if not self.app.admin_unlocked:  # only through the PIN pad
            self.app.go_home()
            return
        settings = self.kiosk.admin_settings()
        self.server_url = settings.get("server_url", "")
        self.default_language = settings.get("default_language", self.app.lang)
        self.idle_timeout = str(settings.get("idle_timeout_seconds", ""))
        self.message_msgid = ""
        self.refresh_status()
        self._status_event = Clock.schedule_interval(self._status_tick, 2.0)

    def _status_tick(self, _dt: float) -> bool | None:
        if self.app is None:  # the app stopped with this screen shown: stop refreshing
            return False
        self.refresh_status()
        return None

    def on_deactivate(self) -> None:
        event = getattr(self, "_status_event", None)
        if event is not None:
            event.cancel()
        if self.app is not None:  # None when the app is already stopping
            self.app.admin_unlocked = False

    def refresh_status(self) -> None:
        """Show the outbox counts and the last successful sync."""
        status = self.kiosk.sync_status()
        self.pending, self.failed, self.paired = status.pending, status.failed, status.paired
        self.revoked = status.revoked
        self.last_failure = status.last_failure or ""
        self.last_success = self._when(status.last_success_at)
        skew = status.clock_skew_seconds
        self.clock_minutes = round(abs(skew or 0) / 60)
        self.clock_warning = warning_msgid(status.clock_problem, skew) or ""

    def status_text(self, lang: str) -> str:
        """Return the sync details for staff: pairing, counts, last success, last refusal."""
        if self.revoked:
            state = _("Revoked by the clinic server: pair again", lang)
        else:
            state = _("Paired", lang) if self.paired else _("Not paired", lang)
        counts = "  ·  ".join(
            (
                state,
                _("Waiting: {pending}", lang).format(pending=self.pending),
                _("Failed: {failed}", lang).format(failed=self.failed),
            )
        )
        lines = [
            counts,
            _("Last success: {when}", lang).format(when=self.last_success or _("never", lang)),
        ]
        if self.last_failure:
            lines.append(_("Last refused: {reason}", lang).format(reason=self.last_failure))
        if self.clock_warning:
            lines.append(_(self.clock_warning, lang).format(minutes=self.clock_minutes))
        return "\n".join(lines)

    def _when(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        return format_datetime(moment.astimezone(self.app.clinic_tz), "short", locale=self.app.lang)

    def save(self) -> None:
        """Store the settings; a bad value says which and changes nothing."""
        values = {
            "server_url": self.server_url.strip(),
            "default_language": self.default_language,
            "idle_timeout_seconds": self.idle_timeout.strip(),
        }
        try:
            self.kiosk.save_admin_settings(values)
        except KioskError as error:
            self.message_msgid = self.explain(error)
            return
        self.app.apply_settings()
        self.message_msgid = N_("Settings saved.")

    def pair(self) -> None:
        """Pair with the clinic server in the background."""
        if self.pairing_busy:
            return
        self.pairing_busy = True
        self.message_msgid = N_("Pairing...")
        self.kiosk.request_pairing(self.server_url.strip(), self.pairing_code.strip(), self._paired)

    @mainthread
    def _paired(self, error_msgid: str | None) -> None:
        self.pairing_busy = False
        self.pairing_code = ""
        self.message_msgid = error_msgid or N_("Paired with the clinic server.")
        self.refresh_status()

    def exit_kiosk(self) -> None:
        """Ask for confirmation, then leave kiosk mode (the only way out)."""
        self.confirm_view = self.app.confirm_exit()

    def languages(self, *_args: Any) -> list[str]:
        return list(self.app.languages)


load_kv(__file__)
