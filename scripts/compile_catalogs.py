"""Compile the kiosk's gettext catalogs (.po -> .mo) with Babel: a build step, never run at start.

    python -m scripts.compile_catalogs [LOCALE_DIR]

setup.py calls `compile_catalogs` when it builds the wheel (into the build tree) and for an
editable install (next to the .po files); scripts/setup.sh runs it so a checkout's catalogs
are never older than their sources. Only catalogs whose .mo is missing or stale are written.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOMAIN = "kiosk"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "assets" / "locale"


def compile_catalogs(locale_dir: Path = LOCALE_DIR, target_dir: Path | None = None) -> list[Path]:
    """Write `<lang>/LC_MESSAGES/kiosk.mo` for every stale catalog; return the files written."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    target = locale_dir if target_dir is None else target_dir
    written: list[Path] = []
    for po_path in sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        lang = po_path.parent.parent.name
        mo_path = target / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
        if mo_path.is_file() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=lang)
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename, so an interrupted build never leaves half a file.
        tmp_path = mo_path.with_suffix(".mo.tmp")
        with tmp_path.open("wb") as mo_file:
            write_mo(mo_file, catalog)
        os.replace(tmp_path, mo_path)
        written.append(mo_path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Compile the catalogs under the given directory (default: assets/locale)."""
    args = sys.argv[1:] if argv is None else argv
    locale_dir = Path(args[0]) if args else LOCALE_DIR
    for path in compile_catalogs(locale_dir):
        print(f"compiled {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
