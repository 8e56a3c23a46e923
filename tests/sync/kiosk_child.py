"""A kiosk process for the crash test: real services + sync worker, killed at random.

Saves records through kiosk.services while the background worker delivers them, and
prints each record id to stdout only after its save returned (after COMMIT), so the
parent knows exactly which saves the kiosk confirmed. `--drain` waits for the outbox to
empty and exits cleanly.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from conftest import FAST_WORKER, open_kiosk  # noqa: E402
from test_sync_e2e import submit_mixed  # noqa: E402

from kiosk import syncing  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--server-url", required=True)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--drain", action="store_true")
    args = parser.parse_args()
    kiosk = open_kiosk(Path(args.data_dir), server_url=args.server_url)
    syncing.start_sync(
        kiosk, settings=syncing.worker_settings(kiosk, **FAST_WORKER), purge_interval=None
    )
    print("ready", flush=True)
    for i in range(args.offset, args.offset + args.count):
        [record_id] = submit_mixed(kiosk, 1, offset=i)
        sys.stdout.write(f"saved {record_id}\n")
        sys.stdout.flush()
    if args.drain:
        deadline = time.monotonic() + 120
        while kiosk.sync_status().pending and time.monotonic() < deadline:
            time.sleep(0.05)
        print(f"drained {kiosk.sync_status().pending}", flush=True)
    syncing.stop_sync(kiosk)
    kiosk.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
