"""CSV exports neutralise every cell a spreadsheet could read as a formula.

Questions with hostile texts arrive from a paired kiosk over the real kiosk API; an admin
downloads the export over HTTP; every such cell must start with an apostrophe (shown as
text by Excel, LibreOffice and Sheets) and keep the patient's text otherwise intact.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from serverproc import ServerProcess
from staff_support import ADMIN, Browser, create_user

from sync.protocol import INGEST_PATH, PAIR_PATH, new_follow_up_token

FORMULAS = [
    '=HYPERLINK("http://example.invalid","x")',
    "+1+2",
    "-2+3",
    "@SUM(A1:A2)",
    "  =1+1",  # after leading spaces
    "\t=1+1",  # tab
    "\r=1+1",  # carriage return
    "\n=1+1",  # line feed
    "\u3000=1+1",  # ideographic space
    "\u00a0+1+1",  # no-break space
    "\u200b=1+1",  # zero-width space
    "\ufeff=1+1",  # byte order mark
    "\uff1d1+1",  # full-width =
    "\uff0b1+1",  # full-width +
    "\uff0d1+1",  # full-width -
    "\uff20SUM(A1)",  # full-width @
    "\ufe661+1",  # small =
    "\u22121+1",  # minus sign
    " \t \uff1dcmd",  # mixed
]
HARMLESS = ["fine = good", "call me back", "Ümlaut – ok"]


def _kiosk_token(server: ServerProcess) -> str:
    answer = requests.post(
        server.url + PAIR_PATH,
        json={"code": server.pairing_code(), "kiosk_name": "lobby", "app_version": "1.0"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def test_csv_export_neutralises_formulas_after_spaces_and_look_alikes(
    start_clinic_server: Callable[..., ServerProcess],
) -> None:
    server = start_clinic_server()
    create_user(server, *ADMIN, admin=True)
    token = _kiosk_token(server)
    asked_at = datetime.now(UTC)
    records: list[dict[str, Any]] = []
    for n, text in enumerate(FORMULAS + HARMLESS):
        records.append(
            {
                "id": str(uuid.uuid4()),
                "kind": "question",
                "created_at": asked_at.isoformat(),
                "body": {
                    "text": f"{text}",
                    # The contact name is exported too (one-line text: no tab/CR/LF).
                    "contact_name": text
                    if "\t" not in text and "\r" not in text and "\n" not in text
                    else f"Name {n}",
                    "asked_at": asked_at.isoformat(),
                    "follow_up_token": new_follow_up_token(),
                    "language": "en",
                },
            }
        )
    sent = requests.post(
        server.url + INGEST_PATH,
        json={"records": records},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert sent.status_code == 200, sent.text
    assert all(r["status"] in (200, 201) for r in sent.json()["results"]), sent.text

    admin = Browser(server)
    assert admin.login(*ADMIN).status_code == 303
    # The range is taken around the records' own time, not "today" (tests run at midnight).
    day = asked_at.date()
    export = admin.get(
        "/dashboard/admin/export/questions.csv"
        f"?date_from={(day - timedelta(days=1)).isoformat()}"
        f"&date_to={(day + timedelta(days=1)).isoformat()}"
    )
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8"), newline="")))
    texts = {row["text"] for row in rows}
    assert len(rows) == len(FORMULAS) + len(HARMLESS)
    for text in FORMULAS:
        assert "'" + text in texts, repr(text)
        assert text not in texts, repr(text)
    for text in HARMLESS:
        assert text in texts, repr(text)
    names = {row["contact_name"] for row in rows}
    assert '\'=HYPERLINK("http://example.invalid","x")' in names
    assert "'\uff1d1+1" in names and "fine = good" in names
    for row in rows:
        for column, cell in row.items():
            stripped = cell.lstrip(" \t\r\n\u3000\u00a0\u200b\ufeff")
            if stripped and stripped[0] in "=+-@\uff1d\uff0b\uff0d\uff20\ufe66\u2212":
                raise AssertionError(f"{column} cell starts a formula: {cell!r}")
