"""Authorization matrix entries for the dashboard and follow-up routes.

Kept beside the dashboard and follow-up code's tests; seeded from the routes present.
Same shape as EXPECTED in test_server_authz_matrix.py:
(method, path) -> (anonymous, kiosk, staff, admin) expected status codes.
Anonymous and kiosk callers of staff pages are sent to /login (303); staff on admin pages
get 403; authorized POSTs with an empty body end in 422 (form fields missing) or 404.
"""

from __future__ import annotations

DASHBOARD_PATH_VALUES: dict[str, str] = {"user_id": "999999", "action": "unlock"}

STAFF_PAGE = (303, 303, 200, 200)
ADMIN_PAGE = (303, 303, 403, 200)

DASHBOARD_EXPECTED: dict[tuple[str, str], tuple[int, int, int, int]] = {
    ("GET", "/"): (303, 303, 303, 303),  # anonymous: to /login; staff: to the arrivals page
    ("GET", "/dashboard"): (303, 303, 303, 303),  # redirects to the arrivals page
    ("GET", "/dashboard/arrivals"): STAFF_PAGE,
    ("POST", "/dashboard/arrivals/{arrival_id}/status"): (303, 303, 422, 422),
    ("GET", "/dashboard/questions"): STAFF_PAGE,
    ("POST", "/dashboard/questions/{question_id}/answer"): (303, 303, 422, 422),
    ("POST", "/dashboard/questions/{question_id}/done"): (303, 303, 404, 404),
    ("GET", "/dashboard/feedback"): STAFF_PAGE,
    ("POST", "/dashboard/feedback/{rating_id}/review"): (303, 303, 422, 422),
    ("POST", "/dashboard/alerts/{alert_id}/acknowledge"): (303, 303, 422, 422),
    ("GET", "/dashboard/kiosks"): STAFF_PAGE,
    # the live event stream answers only an EventSource (Accept: text/event-stream)
    ("GET", "/api/live/events"): (401, 401, 406, 406),
    ("POST", "/dashboard/kiosks/{kiosk_id}/revoke"): (303, 303, 403, 404),
    ("GET", "/dashboard/admin"): ADMIN_PAGE,
    ("POST", "/dashboard/admin/pairing-codes"): ADMIN_PAGE,
    ("POST", "/dashboard/admin/appointments/import"): (303, 303, 403, 422),
    ("POST", "/dashboard/admin/alert-rule"): (303, 303, 403, 422),
    ("POST", "/dashboard/admin/alert-minutes"): (303, 303, 403, 422),
    ("POST", "/dashboard/admin/clinic"): (303, 303, 403, 422),
    ("POST", "/dashboard/admin/staff"): (303, 303, 403, 422),
    ("POST", "/dashboard/admin/faq"): (303, 303, 403, 422),
    ("POST", "/dashboard/admin/faq/{entry_id}/delete"): (303, 303, 403, 404),
    ("GET", "/dashboard/admin/export/feedback.csv"): ADMIN_PAGE,
    ("GET", "/dashboard/admin/export/questions.csv"): ADMIN_PAGE,
    ("POST", "/dashboard/admin/staff/{user_id}/{action}"): (303, 303, 403, 404),
    # The signed-in user's own account (password change, two-step sign-in).
    ("GET", "/account"): STAFF_PAGE,
    ("GET", "/account/password"): STAFF_PAGE,
    ("POST", "/account/password"): (303, 303, 422, 422),
    ("POST", "/account/totp/start"): STAFF_PAGE,
    ("POST", "/account/totp/confirm"): (303, 303, 422, 422),
    ("POST", "/account/totp/disable"): (303, 303, 422, 422),
    # Patient follow-up page: open to anyone holding the token (rate-limited per address).
    ("GET", "/f/{token}"): (200, 200, 200, 200),
    ("POST", "/f/{token}"): (422, 422, 422, 422),
    # Its JSON status for the page's script: a token not received is a 404 (no record).
    ("GET", "/f/{token}/status"): (404, 404, 404, 404),
    # Queue operations (staff) and waiting-room displays (admin pairs and revokes them).
    ("POST", "/dashboard/queue/call-next"): (303, 303, 303, 303),
    ("POST", "/dashboard/arrivals/{arrival_id}/queue"): (303, 303, 422, 422),
    ("GET", "/dashboard/displays"): ADMIN_PAGE,
    ("POST", "/dashboard/displays/pairing-codes"): ADMIN_PAGE,
    ("POST", "/dashboard/displays/{display_id}/revoke"): (303, 303, 403, 404),
    # The display itself: the pairing form is open (the code is the credential), its
    # state needs the display's own cookie.
    ("GET", "/display"): (200, 200, 200, 200),
    ("GET", "/display/state"): (401, 401, 401, 401),
    ("POST", "/display/pair"): (422, 422, 422, 422),
}
