"""Run the kiosk: ``python -m kiosk [--config FILE] [--demo] [--windowed]``.

Full screen by default. Production is the default: without ``--demo`` the kiosk refuses to
start until a staff PIN hash and a server URL are configured (``--config`` reads a TOML file,
KIOSK_* variables override it; docs/kiosk-config.md). ``--demo`` seeds today's synthetic
appointments and FAQ entries (docs/kiosk-demo.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="kiosk", description="Waiting-room kiosk")
    parser.add_argument("--config", metavar="FILE", help="TOML settings file")
    parser.add_argument("--demo", action="store_true", help="seed demo appointments and FAQ")
    parser.add_argument("--windowed", action="store_true", help="run in a window, not full screen")
    parser.add_argument("--size", default="1280x800", help="window size when windowed (WxH)")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="with --demo: tap through a demo check-in, print the screen reached, exit 0 on "
        "the receipt (kiosk/selftest.py)",
    )
    args = parser.parse_args(argv)
    if args.self_test and not args.demo:
        parser.error("--self-test needs --demo (it checks in a demo patient)")
    return args


def main(argv: list[str] | None = None) -> int:
    """Start the kiosk app and return its exit status."""
    args = parse_args(argv)
    from kiosk.config import ConfigError, KioskSettings

    # Settings first: a misconfigured kiosk exits with a message before any window opens.
    try:
        overrides: dict[str, Any] = {"demo": True} if args.demo else {}
        settings = KioskSettings.load(args.config, **overrides)
    except ConfigError as error:
        print(f"kiosk: {error}", file=sys.stderr)
        return 2
    os.environ["KIVY_NO_ARGS"] = "1"  # our options, not Kivy's
    from kivy.config import Config

    from kiosk.app import configure_kiosk_mode

    configure_kiosk_mode()
    if args.windowed:
        width, _, height = args.size.partition("x")
        Config.set("graphics", "fullscreen", "0")
        Config.set("graphics", "width", width)
        Config.set("graphics", "height", height)
    else:
        Config.set("graphics", "fullscreen", "auto")
        Config.set("graphics", "show_cursor", "0")

    from kiosk.services import Kiosk

    try:
        kiosk = Kiosk.open(settings)
    except ConfigError as error:
        print(f"kiosk: {error}", file=sys.stderr)
        return 2
    from kiosk.app import KioskApp

    app = KioskApp(kiosk)
    selftest = None
    if args.self_test:
        from kiosk.selftest import SelfTest

        selftest = SelfTest(app)
        app.bind(on_start=lambda *_a: selftest.start())
    try:
        app.run()
    finally:
        kiosk.close()
    return selftest.exit_code if selftest is not None else 0


if __name__ == "__main__":
    sys.exit(main())
