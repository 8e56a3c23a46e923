#!/usr/bin/env bash
# Check that pyproject.toml's lower bounds are true: build the wheel, install each end with
# every direct dependency pinned to its lower bound (the server's pydantic is raised to what
# its FastAPI needs), and run the tests of that end against it. Slow (two fresh venvs);
# run after changing a bound. Usage: scripts/lowest.sh [work dir]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
work=${1:-$(mktemp -d)}
mkdir -p "$work"
.venv/bin/python -m build --wheel --outdir "$work/dist" . >/dev/null
wheel=$(ls "$work"/dist/*.whl)
# "name>=X" in pyproject.toml -> "name==X" (the extras' brackets dropped).
.venv/bin/python - "$work" <<'PY'
import re, sys, tomllib
from pathlib import Path
work = Path(sys.argv[1])
project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
def lowest(deps):
    pins = {}
    for dep in deps:
        m = re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(>=|==)\s*([^,;\s]+)", dep)
        if m:  # a name listed twice (base and extra): the extra's higher bound wins
            pins[m.group(1).lower()] = m.group(4)
    return pins
extras = project["optional-dependencies"]
for end in ("kiosk", "server"):
    pins = lowest(project["dependencies"] + extras[end])
    if end == "server":
        pins["pydantic"] = "2.9.0"  # FastAPI 0.164 requires it
    (work / f"{end}.txt").write_text("".join(f"{n}=={v}\n" for n, v in pins.items()))
PY
PYTHON=${PYTHON:-python3.11}
for end in kiosk server; do
  rm -rf "$work/$end"
  "$PYTHON" -m venv "$work/$end"
  if [ "$end" = kiosk ]; then tools=(pytest pillow zxing-cpp); else tools=(pytest httpx schemathesis); fi
  "$work/$end/bin/pip" install -q --disable-pip-version-check --no-compile \
    -c "$work/$end.txt" "$wheel[$end]" "${tools[@]}"
done
export REQUIRE_POSTGRES=${REQUIRE_POSTGRES:-1}
"$work/kiosk/bin/python" -m pytest -q -p no:cacheprovider tests/kiosk
xvfb-run -a -s "-screen 0 1280x800x24" "$work/kiosk/bin/python" -m pytest -q -p no:cacheprovider \
  tests/ui/test_ui_checkin.py tests/ui/test_ui_catalogs.py
"$work/server/bin/python" -m pytest -q -p no:cacheprovider tests/clinic
echo "lower bounds ok (venvs in $work)"
