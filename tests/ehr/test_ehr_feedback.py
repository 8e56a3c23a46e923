"""Feedback out: a rating and its survey as a QuestionnaireResponse against the Questionnaire
the clinic server publishes; a question and the staff answer as two Communications.

Real processes: the clinic server and the FHIR test server, which validates each resource
with fhir.resources R4B and the official R4 JSON schema; checked again here."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import jsonschema
import requests
from ehr_support import FIXED_NOW, FhirServer, pair, post_records, staff_session, wait_for
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from sync.protocol import new_follow_up_token


def _record(kind: str, body: dict[str, object]) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "kind": kind,
        "created_at": FIXED_NOW.isoformat(),
        "body": body,
    }


def test_rating_and_answered_question_reach_the_ehr_as_valid_resources(
    tmp_path: Path, fhir_schema: Path, clinic_factory
) -> None:
    (tmp_path / "fhir").mkdir()
    fhir = FhirServer(tmp_path / "fhir", fhir_schema).start()
    clinic = clinic_factory(
        ehr_fhir_base_url=fhir.url, ehr_send_feedback="true", ehr_feedback_delay_seconds="1"
    )
    clinic.start()
    try:
        token = pair(clinic)
        rating = _record(
            "rating",
            {"face": 2, "rated_at": FIXED_NOW.isoformat(),
             "follow_up_token": new_follow_up_token(), "language": "es"},
        )  # fmt: skip
        detail = _record(
            "rating_detail",
            {"rating_id": rating["id"], "waiting_time": 1, "would_recommend": 6,
             "comment": "Esperé mucho | demasiado"},
        )  # fmt: skip
        question = _record(
            "question",
            {"text": "¿Dónde está la farmacia?", "asked_at": FIXED_NOW.isoformat(),
             "follow_up_token": new_follow_up_token(), "language": "es"},
        )  # fmt: skip
        post_records(clinic, token, [rating, detail, question])
        browser = staff_session(clinic)
        page = browser.get(clinic.url + "/dashboard/questions", timeout=10).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf is not None
        answer = browser.post(
            f"{clinic.url}/dashboard/questions/{question['id']}/answer",
            data={"answer": "En la planta baja.", "csrf_token": csrf.group(1)},
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 303, answer.text[:300]
        wait_for(lambda: len(fhir.entries("put")) == 3, 30, "three resources written")

        # A survey finished after the rating was sent: the same resource is replaced.
        late = _record(
            "rating",
            {"face": 5, "rated_at": FIXED_NOW.isoformat(),
             "follow_up_token": new_follow_up_token(), "language": "en"},
        )  # fmt: skip
        post_records(clinic, token, [late])
        wait_for(lambda: len(fhir.entries("put")) == 4, 30, "the late rating written")
        late_detail = _record("rating_detail", {"rating_id": late["id"], "politeness": 5})
        post_records(clinic, token, [late_detail])
        wait_for(lambda: len(fhir.entries("put")) == 5, 30, "the late survey written")
        published = requests.get(
            clinic.url + "/fhir/Questionnaire/kiosk-visit-feedback", timeout=10
        ).json()
    finally:
        clinic.stop()
        fhir.stop()

    assert fhir.entries("invalid") == []
    schema = jsonschema.Draft6Validator(json.loads(fhir_schema.read_text()))
    Questionnaire.model_validate(published)
    schema.validate(published)
    puts = {entry["key"]: entry["resource"] for entry in fhir.entries("put")}
    late_puts = [e for e in fhir.entries("put") if e["key"].endswith(str(late["id"]))]
    assert [e["created"] for e in late_puts] == [True, False]
    assert [i["linkId"] for i in late_puts[0]["resource"]["item"]] == ["face"]
    assert [i["linkId"] for i in late_puts[1]["resource"]["item"]] == ["face", "politeness"]
    response = puts[f"QuestionnaireResponse/{rating['id']}"]
    QuestionnaireResponse.model_validate(response)
    schema.validate(response)
    assert response["questionnaire"] == published["url"]
    answers = {i["linkId"]: i["answer"][0] for i in response["item"]}
    assert answers == {
        "face": {"valueInteger": 2},
        "waiting_time": {"valueInteger": 1},
        "would_recommend": {"valueInteger": 6},
        "comment": {"valueString": "Esperé mucho | demasiado"},
    }
    assert set(answers) <= {item["linkId"] for item in published["item"]}
    asked = puts[f"Communication/{question['id']}"]
    reply = puts[f"Communication/{question['id']}-answer"]
    for resource in (asked, reply):
        Communication.model_validate(resource)
        schema.validate(resource)
    assert asked["payload"] == [{"contentString": "¿Dónde está la farmacia?"}]
    assert reply["payload"] == [{"contentString": "En la planta baja."}]
    assert reply["inResponseTo"] == [{"reference": f"Communication/{question['id']}"}]


def test_feedback_stays_home_unless_the_clinic_turns_it_on(
    tmp_path: Path, fhir_schema: Path, clinic_factory
) -> None:
    """Without send_feedback, a rating queues nothing for the EHR."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from clinic.db import make_engine
    from clinic.ehr.models import EhrOutbox

    clinic = clinic_factory(ehr_fhir_base_url="http://127.0.0.1:9")
    clinic.start()
    try:
        rating = _record(
            "rating",
            {"face": 5, "rated_at": FIXED_NOW.isoformat(),
             "follow_up_token": new_follow_up_token(), "language": "en"},
        )  # fmt: skip
        post_records(clinic, pair(clinic), [rating])
    finally:
        clinic.stop()
    engine = make_engine(clinic.database_url)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(EhrOutbox)) == 0
    engine.dispose()
