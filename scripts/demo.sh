#!/usr/bin/env bash
# Run the product with demo data on SQLite: the clinic server (dashboard on
# http://127.0.0.1:8000, login admin / waiting-room-demo) and a kiosk already paired with it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m scripts.demo "$@"
