"""The patient follow-up page opened from the kiosk's QR code (sync.protocol.FOLLOW_UP_PATH).

What an unknown token shows: a token that is not the protocol's shape (24 URL-safe
characters) is a 404 at once. A well-formed token the server has not received yet may belong
to a kiosk that is offline, so for `PENDING_GRACE` after this process first saw it the page
says "we are recording your visit" (200, refreshing itself); after that it is a 404. Both
cases look the same for a real and a guessed token, so the page tells a guesser nothing, and
the per-address rate limit (429) bounds how fast anyone can guess.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.responses import Response

from clinic import queue, waits
from clinic.deps import SessionDep, SettingsDep
from clinic.followup.models import FollowUpResponse, ResponseKind
from clinic.i18n import (
    N_,
    accept_language,
    format_number,
    gettext_for,
    is_rtl,
    language_name,
    pick_language,
)
from clinic.models import (
    Arrival,
    ArrivalStatus,
    ClinicConfig,
    FollowUpKind,
    FollowUpToken,
    Question,
    Rating,
    utcnow,
)
from clinic.security import RateLimiter, hash_token, retry_after_header
from clinic.templating import CONTENT_SECURITY_POLICY, templates
from sync import protocol, rules

router = APIRouter(include_in_schema=False)

TOKEN_RE = re.compile(rf"^[A-Za-z0-9_-]{{{protocol.FOLLOW_UP_TOKEN_CHARS}}}$")
FOLLOW_UP_STATUS_PATH = protocol.FOLLOW_UP_PATH + "/status"
#: The form's values of a 1-5 scale and of the 0-10 question, as the radio buttons send them.
_SCALE_VALUES = {str(n): n for n in range(rules.SCORE_MIN, rules.SCORE_MAX + 1)}
_RECOMMEND_VALUES = {str(n): n for n in range(rules.RECOMMEND_MIN, rules.RECOMMEND_MAX + 1)}
#: How long a well-formed but unknown token shows "we are recording your visit".
PENDING_GRACE_SECONDS = 60 * 60
#: The one-message pages: (title, body), translated when shown.
MESSAGES: dict[str, tuple[str, str]] = {
    "pending": (
        N_("We are recording your visit"),
        N_("This page updates shortly. You can keep it open."),
    ),
    "expired": (
        N_("This link has expired"),
        N_(
            "For your privacy, follow-up links work only for a limited time. "
            "Please ask at the front desk if you need help."
        ),
    ),
    "not_found": (
        N_("Page not found"),
        N_("This link is not valid. Please check that you scanned the whole code."),
    ),
    "too_many": (N_("Too many requests"), N_("Please wait a moment and try again.")),
}
SURVEY_QUESTIONS = rules.dimension_table(
    {
        "ease_of_contact": N_("How easy was it to contact us?"),
        "waiting_time": N_("How reasonable was the waiting time?"),
        "politeness": N_("How polite and professional was the staff?"),
        "kept_informed": N_("How well were you kept informed?"),
        "overall": N_("Overall, how was your visit?"),
    },
    "follow-up survey questions",
)
BAD_SCORE = N_("a score is out of range")
TOO_LONG = N_("the comment is too long")
BAD_PHONE = N_(
    "the phone number needs {low} to {high} digits, and only spaces, +, ( ) and - besides"
)
INVALID_INPUT = N_("Please check your answers: {detail}")
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


class PendingTokens:
    """When this process first saw each unknown well-formed token (bounded, oldest dropped)."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self._first_seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries

    def age(self, token: str) -> float:
        """Return seconds since the token was first asked for (0 on the first request)."""
        now = time.monotonic()
        with self._lock:
            first = self._first_seen.setdefault(token, now)
            if len(self._first_seen) > self._max:
                self._first_seen.popitem(last=False)
            return now - first


_pending = PendingTokens()


def _page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    lang: str,
    session: Session | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    config = ClinicConfig.of(session) if session is not None else None
    if config is not None:
        request.state.clinic_name = config.name
    base = {
        "lang": lang,
        "text_direction": "rtl" if is_rtl(lang) else "ltr",
        "refresh_seconds": 0,
        "clinic_name": config.name if config is not None else "",
    }
    base.update(context)
    return templates.TemplateResponse(
        request,
        template,
        base,
        status_code=status_code,
        headers={**_HEADERS, **(headers or {})},
    )


def _message(
    request: Request,
    session: Session | None,
    lang: str,
    key: str,
    status_code: int,
    *,
    refresh: int = 0,
    headers: dict[str, str] | None = None,
) -> Response:
    title, body = MESSAGES[key]
    context: dict[str, Any] = {
        "heading": gettext_for(lang, title),
        "body": gettext_for(lang, body),
        "refresh_seconds": refresh,
    }
    return _page(
        request,
        "followup/message.html",
        context,
        lang=lang,
        session=session,
        status_code=status_code,
        headers=headers,
    )


def _refresh(request: Request) -> int:
    """Return how often a page that is still waiting for something reloads itself."""
    seconds: int = request.app.state.settings.follow_up_refresh_seconds
    return seconds


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _limited(request: Request) -> Response | None:
    limiter: RateLimiter = request.app.state.follow_up_limiter
    wait = limiter.acquire(_client(request))
    if wait <= 0:
        return None
    lang = accept_language(request.headers.get("accept-language"))
    return _message(
        request,
        None,
        lang,
        "too_many",
        status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": retry_after_header(wait)},
    )


def _resolve(
    request: Request, token: str, session: Session
) -> tuple[FollowUpToken | None, Response | None]:
    """Return the token row, or the page to show instead (pending, expired, not found)."""
    lang = accept_language(request.headers.get("accept-language"))
    if not TOKEN_RE.fullmatch(token):
        return None, _message(request, session, lang, "not_found", status.HTTP_404_NOT_FOUND)
    row = session.get(FollowUpToken, hash_token(token))
    if row is None:
        first_seen = getattr(request.app.state, "first_seen", None) or _pending
        if first_seen.age(token) < PENDING_GRACE_SECONDS:
            return None, _message(
                request, session, lang, "pending", status.HTTP_200_OK, refresh=_refresh(request)
            )
        return None, _message(request, session, lang, "not_found", status.HTTP_404_NOT_FOUND)
    if row.expires_at <= utcnow():
        return None, _message(
            request, session, pick_language(row.language), "expired", status.HTTP_410_GONE
        )
    return row, None


def _open(request: Request, token: str, session: Session) -> FollowUpToken | Response:
    """Return the token row, or the page to show instead (too many requests, or as _resolve)."""
    limited = _limited(request)
    if limited is not None:
        return limited
    row, other = _resolve(request, token, session)
    if row is None:
        assert other is not None
        return other
    return row


@router.get(protocol.FOLLOW_UP_PATH)
def follow_up_page(
    request: Request, token: str, session: SessionDep, settings: SettingsDep
) -> Response:
    """Show the patient their place in the queue, the staff answer, or the longer survey."""
    row = _open(request, token, session)
    if isinstance(row, Response):
        return row
    lang = pick_language(row.language)
    if row.kind in (FollowUpKind.CHECK_IN, FollowUpKind.WALK_IN):
        arrival = session.get(Arrival, row.target_id)
        if arrival is None:
            return _message(request, session, lang, "pending", 200, refresh=_refresh(request))
        return _check_in_page(request, session, settings, arrival, lang)
    if row.kind == FollowUpKind.QUESTION:
        question = session.get(Question, row.target_id)
        if question is None:
            return _message(request, session, lang, "pending", 200, refresh=_refresh(request))
        return _page(
            request,
            "followup/question.html",
            {
                "text": question.text,
                "answer": question.answer,
                "refresh_seconds": 0 if question.answer else _refresh(request) * 3,
            },
            lang=lang,
            session=session,
        )
    rating = session.get(Rating, row.target_id)
    if rating is None:
        return _message(request, session, lang, "pending", 200, refresh=_refresh(request))
    saved = request.query_params.get("saved", "")
    return _rating_page(request, session, rating, token, lang, saved=saved)


#: How often the follow-up page's script asks for the queue status (at most).
POLL_SECONDS = 5
STATUS_TEXTS = {
    ArrivalStatus.WAITING: N_("Please wait, we will call you."),
    ArrivalStatus.CALLED_IN: N_("It is your turn: please go to the front desk."),
    ArrivalStatus.SEEN: N_("Your visit is complete. Thank you."),
    ArrivalStatus.NO_SHOW: N_(
        "We called you but could not find you. Please ask at the front desk."
    ),
}
CALLED_TO_ROOM = N_("It is your turn: please go to {room}.")
WAIT_RANGE = N_("{low}-{high} min")


def check_in_status(session: Session, settings: Any, arrival: Arrival, lang: str) -> dict[str, Any]:
    """Return what the check-in page shows, as data (the page and its JSON share it)."""
    now = utcnow()
    position = queue.position_of(session=session, settings=settings, arrival=arrival, now=now)
    ahead = (position - 1) if position is not None else 0
    status_text = gettext_for(lang, STATUS_TEXTS[ArrivalStatus(arrival.status)])
    if arrival.status == ArrivalStatus.CALLED_IN and arrival.room:
        status_text = gettext_for(lang, CALLED_TO_ROOM).format(room=arrival.room)
    wait_text = ""
    if arrival.status == ArrivalStatus.WAITING:
        fallback = queue.estimated_wait_for(
            session=session, settings=settings, arrival=arrival, now=now
        )
        estimate = waits.range_for_arrival(
            session=session,
            arrival=arrival,
            now=now,
            tz=settings.tz,
            fallback_minutes=fallback or 0,
        )
        if estimate is not None:
            wait_text = gettext_for(lang, WAIT_RANGE).format(
                low=format_number(estimate.low, lang), high=format_number(estimate.high, lang)
            )
    return {
        "queue_number": arrival.queue_number,
        "status": arrival.status,
        "ahead": ahead,
        "ahead_text": format_number(ahead, lang),
        "wait_text": wait_text,
        "room": arrival.room if arrival.status == ArrivalStatus.CALLED_IN else None,
        "status_text": status_text,
        "final": arrival.status in (ArrivalStatus.SEEN, ArrivalStatus.NO_SHOW),
    }


def _check_in_page(
    request: Request, session: Session, settings: Any, arrival: Arrival, lang: str
) -> Response:
    view = check_in_status(session, settings, arrival, lang)
    live = not view["final"]
    return _page(
        request,
        "followup/check_in.html",
        {
            **view,
            "poll_seconds": min(POLL_SECONDS, _refresh(request)) if live else 0,
            "no_script_refresh": _refresh(request),
            "status_url": FOLLOW_UP_STATUS_PATH.format(token=request.path_params["token"]),
            "interpreter_language": (
                language_name(arrival.interpreter_language, lang)
                if arrival.interpreter_language
                else ""
            ),
        },
        lang=lang,
        session=session,
    )


@router.get(protocol.FOLLOW_UP_PATH + "/status")
def follow_up_status(
    request: Request, token: str, session: SessionDep, settings: SettingsDep
) -> Response:
    """Return a check-in's queue status as JSON for the follow-up page's script."""
    limited = _limited(request)
    if limited is not None:
        return JSONResponse(
            {"error": "too many requests"},
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={**_HEADERS, "Retry-After": limited.headers.get("Retry-After", "5")},
        )
    row, _other = _resolve(request, token, session)
    if row is None or row.kind not in (FollowUpKind.CHECK_IN, FollowUpKind.WALK_IN):
        return JSONResponse({"error": "not found"}, status_code=404, headers=_HEADERS)
    arrival = session.get(Arrival, row.target_id)
    if arrival is None:
        return JSONResponse({"status": "pending"}, headers=_HEADERS)
    view = check_in_status(session, settings, arrival, pick_language(row.language))
    return JSONResponse(view, headers=_HEADERS)


def _rating_page(
    request: Request,
    session: Session,
    rating: Rating,
    token: str,
    lang: str,
    *,
    saved: str = "",
    error: str | None = None,
    status_code: int = 200,
    current: dict[str, Any] | None = None,
) -> Response:
    kinds = set(
        session.scalars(
            select(FollowUpResponse.kind).where(FollowUpResponse.rating_id == rating.id)
        ).all()
    )
    return _page(
        request,
        "followup/rating.html",
        {
            "action": protocol.FOLLOW_UP_PATH.format(token=token),
            "dimensions": rules.RATING_DIMENSIONS,
            "questions": SURVEY_QUESTIONS,
            "scale_values": list(_SCALE_VALUES.values()),
            "recommend_values": list(_RECOMMEND_VALUES.values()),
            "survey_done": ResponseKind.SURVEY in kinds,
            "callback_done": ResponseKind.CALLBACK in kinds,
            "saved": saved if saved in ("survey", "callback") else "",
            "error": error,
            "current": current or {},
            "max_comment": protocol.MAX_COMMENT_CHARS,
            "max_phone": protocol.MAX_PHONE_CHARS,
        },
        lang=lang,
        session=session,
        status_code=status_code,
    )


def _parse_survey(form: Any) -> tuple[dict[str, Any], str | None]:
    answers: dict[str, Any] = {}
    for dim in rules.RATING_DIMENSIONS:
        value = form.get(dim)
        if value in (None, ""):
            continue
        if value not in _SCALE_VALUES:
            return answers, BAD_SCORE
        answers[dim] = _SCALE_VALUES[value]
    recommend = form.get(rules.RECOMMEND_DIMENSION)
    if recommend not in (None, ""):
        if recommend not in _RECOMMEND_VALUES:
            return answers, BAD_SCORE
        answers[rules.RECOMMEND_DIMENSION] = _RECOMMEND_VALUES[recommend]
    comment = form.get("comment")
    if isinstance(comment, str) and comment.strip():
        if len(comment) > protocol.MAX_COMMENT_CHARS:
            return answers, TOO_LONG
        answers["comment"] = comment.strip()
    return answers, None


@router.post(protocol.FOLLOW_UP_PATH)
async def follow_up_submit(
    request: Request,
    token: str,
    session: SessionDep,
    form_name: Annotated[str, Form(alias="form", max_length=16)],
) -> Response:
    """Store the longer survey or a call-back request sent from the patient's phone."""
    row = _open(request, token, session)
    if isinstance(row, Response):
        return row
    lang = pick_language(row.language)
    rating = session.get(Rating, row.target_id) if row.kind == FollowUpKind.RATING else None
    if rating is None or form_name not in ("survey", "callback"):
        return _message(request, session, lang, "not_found", status.HTTP_404_NOT_FOUND)
    form = await request.form()

    def invalid(detail: str, current: dict[str, Any] | None = None) -> Response:
        return _rating_page(
            request,
            session,
            rating,
            token,
            lang,
            error=gettext_for(lang, INVALID_INPUT).format(detail=detail),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            current=current,
        )

    if form_name == "survey":
        answers, problem = _parse_survey(form)
        if problem is not None:
            return invalid(gettext_for(lang, problem), current=answers)
        response = FollowUpResponse(rating_id=rating.id, kind=ResponseKind.SURVEY, answers=answers)
    else:
        phone = str(form.get("phone") or "").strip()
        if not rules.is_phone(phone):
            return invalid(
                gettext_for(lang, BAD_PHONE).format(
                    low=rules.MIN_PHONE_DIGITS, high=rules.MAX_PHONE_DIGITS
                )
            )
        response = FollowUpResponse(rating_id=rating.id, kind=ResponseKind.CALLBACK, phone=phone)
    try:
        with session.begin_nested():
            session.add(response)
    except IntegrityError:
        pass  # already saved (double tap, second tab): the first answer stands
    return RedirectResponse(
        protocol.FOLLOW_UP_PATH.format(token=token) + f"?saved={form_name}",
        status_code=status.HTTP_303_SEE_OTHER,
        headers=_HEADERS,
    )
