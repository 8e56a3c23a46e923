"""Tell systemd the kiosk is alive (sd_notify), so a frozen UI gets restarted.

The kiosk's unit is ``Type=notify`` with ``WatchdogSec=``: systemd passes ``NOTIFY_SOCKET``
and ``WATCHDOG_USEC`` and kills and restarts the kiosk when no ``WATCHDOG=1`` arrives within
that time. The pings are sent from the UI's main loop (a Kivy Clock interval in
kiosk/app.py), so they stop exactly when the UI stops turning. The protocol is one datagram
per message on a Unix socket (systemd's sd_notify(3)); no library needed and no Kivy here.
Outside systemd (no NOTIFY_SOCKET) every call is a cheap no-op.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

#: Ping this many times per watchdog period: a late frame or two never trips it.
PINGS_PER_PERIOD = 3


def _address(environ: Mapping[str, str]) -> str | None:
    address = environ.get("NOTIFY_SOCKET", "")
    if not address.startswith(("/", "@")):
        return None
    # A leading "@" names a socket in the abstract namespace (a NUL byte on the wire).
    return "\0" + address[1:] if address.startswith("@") else address


def notify(message: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send one sd_notify message (e.g. ``READY=1``); return whether systemd was told."""
    address = _address(os.environ if environ is None else environ)
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            # Never wait (as libsystemd's sd_notify, MSG_DONTWAIT): the pings come from the UI
            # thread, and a reader that stalls with its queue full (10 datagrams on Linux)
            # would otherwise freeze the kiosk in send() - then a missed ping is the answer.
            sock.setblocking(False)
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        log.warning("sd_notify failed: %s", exc)
        return False
    return True


def ping_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Return the seconds between pings systemd asks for, or None without a watchdog."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    # WATCHDOG_PID names the unit's main process. Under cage the kiosk is that process's only
    # client (its child), so a watchdog meant for the parent is ours to feed; anything further
    # down (a helper the kiosk starts) must not feed it.
    if not usec.isdigit() or int(usec) == 0 or pid not in ("", str(os.getpid()), str(os.getppid())):
        return None
    return int(usec) / 1_000_000 / PINGS_PER_PERIOD


class Watchdog:
    """Ready, ping and stopping messages for one process, scheduled by the caller's loop."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = dict(os.environ if environ is None else environ)

    @property
    def interval(self) -> float | None:
        """Return the ping interval in seconds (None: no watchdog asked for)."""
        return ping_interval(self._environ)

    def ready(self) -> bool:
        """Tell systemd start-up is done (the app is built; its main loop starts now)."""
        return notify("READY=1", self._environ)

    def ping(self, *_args: Any) -> bool:
        """Tell systemd the main loop still turns."""
        return notify("WATCHDOG=1", self._environ)

    def stopping(self) -> bool:
        """Tell systemd the process is shutting down on purpose."""
        return notify("STOPPING=1", self._environ)

    def start(self, schedule_interval: Callable[[Callable[..., Any], float], Any]) -> list[Any]:
        """Report ready, schedule pings on the caller's main loop; return the events."""
        self.ready()
        interval = self.interval
        if interval is None:
            return []
        self.ping()
        return [schedule_interval(self.ping, interval)]
