"""Feedback out (optional per clinic): a rating as a FHIR QuestionnaireResponse against the
Questionnaire this server publishes, a question and its answer as two Communications.

Both are written with PUT to ids we choose (the record's UUID), so a re-send replaces the
same resource instead of adding a second one. Ratings carry no subject: the survey is
anonymous towards the EHR, as it is on the dashboard.
"""

from __future__ import annotations

import uuid
from typing import Any

import requests
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from sqlalchemy.orm import Session

from clinic.ehr.fhir import FHIR_JSON, FhirClient, failure_result, resource_dict, resource_json
from clinic.ehr.queue import Delivered, Refused, Retry, SendResult
from clinic.ehr.smart import TokenError
from clinic.models import Question, Rating
from sync.rules import (
    FACE_MAX,
    FACE_MIN,
    RECOMMEND_DIMENSION,
    RECOMMEND_MAX,
    RECOMMEND_MIN,
    SCORE_MAX,
    SCORE_MIN,
    dimension_table,
)

QUESTIONNAIRE_ID = "kiosk-visit-feedback"
QUESTIONNAIRE_PATH = f"/fhir/Questionnaire/{QUESTIONNAIRE_ID}"
#: linkId, text, type, answer range (None: free text).
_DIMENSION_TEXTS = dimension_table(
    {
        "ease_of_contact": "Ease of contacting the clinic (1-5)",
        "waiting_time": "Waiting time and responsiveness (1-5)",
        "politeness": "Politeness and professionalism of the staff (1-5)",
        "kept_informed": "Being kept informed (1-5)",
        "overall": "Overall (1-5)",
    },
    "EHR questionnaire items",
)
ITEMS: tuple[tuple[str, str, str, tuple[int, int] | None], ...] = (
    (
        "face",
        "How was your visit today? (1 very unhappy - 5 very happy)",
        "integer",
        (FACE_MIN, FACE_MAX),
    ),
    *((dim, text, "integer", (SCORE_MIN, SCORE_MAX)) for dim, text in _DIMENSION_TEXTS.items()),
    (
        RECOMMEND_DIMENSION,
        "How likely are you to recommend us? (0-10)",
        "integer",
        (RECOMMEND_MIN, RECOMMEND_MAX),
    ),
    ("comment", "Comment", "text", None),
)

router = APIRouter(tags=["ehr"])


def questionnaire_url(public_base_url: str) -> str:
    """Return the canonical URL of the published Questionnaire."""
    return public_base_url.rstrip("/") + QUESTIONNAIRE_PATH


def questionnaire(public_base_url: str) -> Questionnaire:
    """Return the kiosk's visit-feedback Questionnaire."""
    items = []
    for link_id, text, kind, bounds in ITEMS:
        item: dict[str, Any] = {"linkId": link_id, "text": text, "type": kind}
        if link_id == "face":
            item["required"] = True
        if bounds is not None:
            item["extension"] = [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/minValue",
                    "valueInteger": bounds[0],
                },
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/maxValue",
                    "valueInteger": bounds[1],
                },
            ]
        items.append(item)
    return Questionnaire.model_validate(
        {
            "resourceType": "Questionnaire",
            "id": QUESTIONNAIRE_ID,
            "url": questionnaire_url(public_base_url),
            "version": "1",
            "name": "KioskVisitFeedback",
            "title": "Waiting-room kiosk: visit feedback",
            "status": "active",
            "subjectType": ["Patient"],
            "item": items,
        }
    )


@router.get(QUESTIONNAIRE_PATH)
def published_questionnaire(request: Request) -> JSONResponse:
    """Publish the Questionnaire that feedback QuestionnaireResponses answer."""
    base = request.app.state.settings.public_base_url
    return JSONResponse(
        content=resource_dict(questionnaire(base)),
        media_type=FHIR_JSON,
    )


def questionnaire_response(rating: Rating, public_base_url: str) -> QuestionnaireResponse:
    """Return the rating (and its survey, when answered) as a QuestionnaireResponse."""
    items = []
    for link_id, text, kind, _bounds in ITEMS:
        value = getattr(rating, link_id)
        if value is None:
            continue
        answer = {"valueInteger": int(value)} if kind == "integer" else {"valueString": value}
        items.append({"linkId": link_id, "text": text, "answer": [answer]})
    return QuestionnaireResponse.model_validate(
        {
            "resourceType": "QuestionnaireResponse",
            "id": str(rating.id),
            "identifier": {"system": "urn:ietf:rfc:3986", "value": rating.id.urn},
            "questionnaire": questionnaire_url(public_base_url),
            "status": "completed",
            "authored": rating.rated_at.isoformat(),
            "item": items,
        }
    )


def communications(question: Question) -> list[Communication]:
    """Return the patient's question and, when answered, the staff answer."""
    asked = Communication.model_validate(
        {
            "resourceType": "Communication",
            "id": str(question.id),
            "identifier": [{"system": "urn:ietf:rfc:3986", "value": question.id.urn}],
            "status": "completed",
            "priority": "urgent" if question.emergency else "routine",
            "sent": question.asked_at.isoformat(),
            "payload": [{"contentString": question.text}],
        }
    )
    if question.answer is None or question.answered_at is None:
        return [asked]
    answer = Communication.model_validate(
        {
            "resourceType": "Communication",
            "id": f"{question.id}-answer",
            "status": "completed",
            "inResponseTo": [{"reference": f"Communication/{question.id}"}],
            "sent": question.answered_at.isoformat(),
            "payload": [{"contentString": question.answer}],
        }
    )
    return [asked, answer]


def send_feedback(
    client: FhirClient, *, session: Session, payload: dict[str, Any], public_base_url: str
) -> SendResult:
    """PUT the rating's QuestionnaireResponse or the question's Communications."""
    resources: list[Any]
    if "rating_id" in payload:
        rating = session.get(Rating, uuid.UUID(payload["rating_id"]))
        if rating is None:
            return Refused("the rating was purged before it could be sent")
        resources = [questionnaire_response(rating, public_base_url)]
    else:
        question = session.get(Question, uuid.UUID(payload["question_id"]))
        if question is None:
            return Refused("the question was purged before it could be sent")
        resources = communications(question)
    try:
        for resource in resources:
            response = client.request(
                "PUT",
                f"{client.base_url}/{resource.get_resource_type()}/{resource.id}",
                data=resource_json(resource).encode(),
                headers={"Content-Type": FHIR_JSON},
            )
            if response.status_code not in (200, 201):
                return failure_result(response)
    except TokenError as exc:
        return Retry(str(exc))
    except requests.RequestException as exc:
        return Retry(f"FHIR server unreachable: {type(exc).__name__}")
    kinds = ", ".join(sorted({r.get_resource_type() for r in resources}))
    return Delivered(f"{kinds} written")
