"""Jinja2 templates for every server-rendered page (autoescape on, `csrf_token` in context).

Pages render with `templates.TemplateResponse(request, "name.html", {...})`. Every template
gets `csrf_token` (the staff session's synchronizer token, or the login form's token),
`current_user` (StaffUser or None), `clinic_name` and `static_url(path)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates

from clinic.i18n import install as install_i18n

TEMPLATES_DIR = Path(__file__).parent / "templates"

#: Defence in depth behind autoescaping: no inline or foreign scripts, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def _request_context(request: Request) -> dict[str, Any]:
    state = request.state
    staff_session = getattr(state, "staff_session", None)
    csrf = getattr(state, "csrf_token", None) or (staff_session.csrf_token if staff_session else "")
    return {
        "csrf_token": csrf,
        "current_user": staff_session.user if staff_session is not None else None,
        "clinic_name": getattr(state, "clinic_name", None) or "Clinic",
    }


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,  # everything patients write is shown as text, never as markup
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
install_i18n(_env)
templates = Jinja2Templates(env=_env, context_processors=[_request_context])
