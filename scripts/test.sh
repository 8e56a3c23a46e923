#!/usr/bin/env bash
# Run the whole test suite: kiosk services, the real Kivy UI under Xvfb, the clinic server
# on SQLite and PostgreSQL, sync against a real server process, and the dashboard in
# headless Chromium. UI and browser tests are required: REQUIRE_UI=1 / REQUIRE_BROWSER=1
# make them fail (not skip) when no display or browser can be had.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export REQUIRE_UI=${REQUIRE_UI:-1} REQUIRE_BROWSER=${REQUIRE_BROWSER:-1}
export REQUIRE_POSTGRES=${REQUIRE_POSTGRES:-$( (command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432) && echo 1 || echo 0)}
# In parallel: one worker per core and one more (many tests wait on a server process or a
# browser), whole modules per worker (their server and app fixtures are module-wide). Each
# worker starts an Xvfb of its own (tests/xdisplay.py). TEST_WORKERS=0 runs in one process.
workers=${TEST_WORKERS:-$(( $(nproc) + 1 ))}
exec xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python -m pytest -n "$workers" --dist loadfile "$@"
