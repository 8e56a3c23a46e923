"""The admin page's EHR section on a real server process: settings saved and applied at
once, a precise 422 for bad input, "pull now", and "send again" for a refused message."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import requests
from ehr_support import (
    FIXED_NOW,
    FhirServer,
    add_appointments,
    check_in_record,
    fhir_appointment,
    fhir_patient,
    pair,
    post_records,
    staff_session,
    wait_for,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.db import make_engine
from clinic.ehr.models import EhrOutbox
from clinic.models import Appointment


def _csrf(browser: requests.Session, url: str) -> str:
    page = browser.get(url + "/dashboard/admin", timeout=10)
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def _rows(database_url: str, model: type) -> list[Any]:
    engine = make_engine(database_url)
    with Session(engine) as session:
        rows: list[Any] = list(session.scalars(select(model)))
    engine.dispose()
    return rows


def test_admin_configures_the_fhir_link_and_it_applies_at_once(
    tmp_path: Path, fhir_schema: Path, clinic_factory
) -> None:
    # The server pulls "today and tomorrow" by its own clock; now is inside that at any hour.
    start = datetime.now(UTC).replace(microsecond=0)
    (tmp_path / "fhir").mkdir()
    fhir = FhirServer(tmp_path / "fhir", fhir_schema)
    fhir.seed.write_text(
        json.dumps(
            [
                fhir_appointment("apt-1", "pat-1", start),
                fhir_patient("pat-1", "Svensson", "Ulla", date(1960, 6, 6)),
            ]
        )
    )
    fhir.start()
    clinic = clinic_factory()  # no EHR settings in the file or environment
    add_appointments(
        clinic,
        [{"ref": "apt-404", "first_name": "Ulla", "last_name": "Svensson",
          "date_of_birth": date(1960, 6, 6), "starts_at": start, "clinician": "Dr Smith"}],
    )  # fmt: skip
    clinic.start()
    try:
        admin = staff_session(clinic, admin=True)
        page = admin.get(clinic.url + "/dashboard/admin", timeout=10).text
        assert 'id="ehr-admin"' in page and "Save EHR link settings" in page
        csrf = _csrf(admin, clinic.url)

        bad = admin.post(
            clinic.url + "/dashboard/admin/ehr/settings",
            data={"csrf_token": csrf, "fhir_base_url": "ftp://x", "schedule_poll_seconds": "0"},
            allow_redirects=False,
            timeout=10,
        )
        assert bad.status_code == 422
        assert "fhir_base_url must start with https://" in bad.text
        bad_port = admin.post(
            clinic.url + "/dashboard/admin/ehr/settings",
            data={"csrf_token": csrf, "hl7_host": "h", "hl7_port": "99999"},
            allow_redirects=False,
            timeout=10,
        )
        assert bad_port.status_code == 422 and "hl7_port" in bad_port.text

        saved = admin.post(
            clinic.url + "/dashboard/admin/ehr/settings",
            data={"csrf_token": csrf, "fhir_base_url": fhir.url, "schedule_poll_seconds": "0"},
            allow_redirects=False,
            timeout=10,
        )
        assert saved.status_code == 303
        page = admin.get(clinic.url + "/dashboard/admin", timeout=10).text
        assert f'value="{fhir.url}"' in page and "Pull the schedule now" in page

        pulled = admin.post(
            clinic.url + "/dashboard/admin/ehr/pull",
            data={"csrf_token": csrf},
            allow_redirects=False,
            timeout=10,
        )
        assert pulled.status_code == 303
        wait_for(
            lambda: "apt-1" in {a.ref for a in _rows(clinic.database_url, Appointment)},
            20,
            "the pulled appointment",
        )

        token = pair(clinic)
        post_records(
            clinic,
            token,
            [check_in_record("apt-1", FIXED_NOW), check_in_record("apt-404", FIXED_NOW)],
        )
        wait_for(lambda: len(fhir.entries("write")) == 1, 20, "the arrival written")
        wait_for(
            lambda: any(m.status == "refused" for m in _rows(clinic.database_url, EhrOutbox)),
            20,
            "the refusal",
        )
        [refused] = [m for m in _rows(clinic.database_url, EhrOutbox) if m.status == "refused"]
        page = admin.get(clinic.url + "/dashboard/admin", timeout=10).text
        assert f"/dashboard/admin/ehr/messages/{refused.id}/retry" in page
        again = admin.post(
            f"{clinic.url}/dashboard/admin/ehr/messages/{refused.id}/retry",
            data={"csrf_token": csrf},
            allow_redirects=False,
            timeout=10,
        )
        assert again.status_code == 303
        wait_for(
            lambda: (
                len(fhir.entries()) > 0
                and any(
                    m.id == refused.id and m.status == "refused" and m.done_at > refused.done_at
                    for m in _rows(clinic.database_url, EhrOutbox)
                )
            ),
            20,
            "the message tried again",
        )
        twice = admin.post(
            f"{clinic.url}/dashboard/admin/ehr/messages/{refused.id}/retry",
            data={"csrf_token": csrf},
            allow_redirects=False,
            timeout=10,
        )
        assert twice.status_code == 303
        staff = staff_session(clinic)
        forbidden = staff.post(
            clinic.url + "/dashboard/admin/ehr/settings",
            data={"csrf_token": "x", "fhir_base_url": ""},
            allow_redirects=False,
            timeout=10,
        )
        assert forbidden.status_code in (401, 403)
    finally:
        clinic.stop()
        fhir.stop()


def test_settings_saved_in_one_server_process_reach_the_other(
    tmp_path: Path, fhir_schema: Path, clinic_factory
) -> None:
    """Two server processes on one database: the second applies what the first saved."""
    from serverproc import ServerProcess

    start = datetime.now(UTC).replace(microsecond=0)
    (tmp_path / "fhir").mkdir()
    fhir = FhirServer(tmp_path / "fhir", fhir_schema)
    fhir.seed.write_text(
        json.dumps(
            [
                fhir_appointment("apt-2p", "pat-2p", start),
                fhir_patient("pat-2p", "Mbeki", "Thabo", date(1970, 7, 7)),
            ]
        )
    )
    fhir.start()
    first = clinic_factory(ehr_config_check_seconds="0.3")
    add_appointments(
        first,
        [{"ref": "apt-2p", "first_name": "Thabo", "last_name": "Mbeki",
          "date_of_birth": date(1970, 7, 7), "starts_at": start, "clinician": "Dr Smith"}],
    )  # fmt: skip
    first.start()
    second = ServerProcess(tmp_path / "second", ehr_config_check_seconds="0.3")
    second.env["CLINIC_DATABASE_URL"] = first.database_url
    second.start()
    try:
        token = pair(first)
        admin = staff_session(first, admin=True)
        saved = admin.post(
            first.url + "/dashboard/admin/ehr/settings",
            data={"csrf_token": _csrf(admin, first.url), "fhir_base_url": fhir.url,
                  "schedule_poll_seconds": "0"},
            allow_redirects=False,
            timeout=10,
        )  # fmt: skip
        assert saved.status_code == 303
        first.stop()  # only the second process is left to deliver
        time.sleep(1.0)  # a few of its config checks
        post_records(second, token, [check_in_record("apt-2p", FIXED_NOW)])
        wait_for(lambda: len(fhir.entries("write")) == 1, 30, "the second process's delivery")
    finally:
        second.close()
        first.stop()
        fhir.stop()
