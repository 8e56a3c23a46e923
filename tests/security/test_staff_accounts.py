"""Staff account lifecycle over HTTP to a real server and through `clinic-server`.

Disable and enable, password reset with a forced change, ending all of a user's sessions,
one's own password change, last sign-in shown, the password policy, and the audit trail.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from serverproc import ServerProcess
from staff_support import (
    ADMIN,
    NURSE,
    Browser,
    audit_actions,
    cli,
    create_user,
    user_id_on_admin_page,
)


@pytest.fixture
def server(start_clinic_server: Callable[..., ServerProcess]) -> ServerProcess:
    server = start_clinic_server()
    create_user(server, *ADMIN, admin=True)
    create_user(server, *NURSE)
    return server


def _admin(server: ServerProcess) -> Browser:
    admin = Browser(server)
    assert admin.login(*ADMIN).status_code == 303
    return admin


def _nurse(server: ServerProcess, password: str = NURSE[1]) -> Browser:
    nurse = Browser(server)
    assert nurse.login(NURSE[0], password).status_code == 303
    assert nurse.signed_in_as() == NURSE[0]
    return nurse


def test_a_disabled_users_live_session_stops_working_at_once(server: ServerProcess) -> None:
    nurse = _nurse(server)
    admin = _admin(server)
    nurse_id = user_id_on_admin_page(admin, NURSE[0])
    assert admin.submit(f"/dashboard/admin/staff/{nurse_id}/disable").status_code == 303
    # The very next request of the open session is refused, and signing in again too.
    assert nurse.signed_in_as() is None
    assert nurse.get("/dashboard/arrivals").status_code == 303
    assert Browser(server).login(*NURSE).status_code == 401
    assert "disabled" in admin.get("/dashboard/admin").text
    # Enabled again: the same password works.
    assert admin.submit(f"/dashboard/admin/staff/{nurse_id}/enable").status_code == 303
    again = _nurse(server)
    # The CLI does the same, to a session opened meanwhile.
    done = cli(server, "disable", NURSE[0])
    assert done.returncode == 0, done.stderr
    assert again.signed_in_as() is None
    assert cli(server, "enable", NURSE[0]).returncode == 0
    _nurse(server)
    # The last admin cannot be disabled (nobody could enable anyone again).
    refused = cli(server, "disable", ADMIN[0])
    assert refused.returncode == 1 and "last active admin" in refused.stderr
    actions = audit_actions(server)
    assert (ADMIN[0], "staff.disable", f"staff:{nurse_id}") in actions
    assert (ADMIN[0], "staff.enable", f"staff:{nurse_id}") in actions
    assert ("cli", "staff.disable", f"staff:{nurse_id}") in actions


def test_a_password_reset_forces_a_change_at_next_sign_in(server: ServerProcess) -> None:
    nurse = _nurse(server)
    admin = _admin(server)
    nurse_id = user_id_on_admin_page(admin, NURSE[0])
    page = admin.submit(f"/dashboard/admin/staff/{nurse_id}/reset-password")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    shown = re.search(r'id="temporary-password".*?<code>([^<]+)</code>', page.text, re.S)
    assert shown is not None
    temporary = shown.group(1)
    # The reset ended the nurse's session; the old password no longer works.
    assert nurse.signed_in_as() is None
    assert Browser(server).login(*NURSE).status_code == 401
    # With the temporary password, every page leads to the password change, and the API
    # answers 403 until a new password is chosen.
    fresh = _nurse(server, temporary)
    moved = fresh.get("/dashboard/arrivals")
    assert moved.status_code == 303 and moved.headers["location"] == "/account/password"
    forced = fresh.get("/account/password")
    assert "Choose a new password to continue" in forced.text
    assert fresh.http.get(fresh.url("/api/admin/kiosks"), timeout=30).status_code in (403, 404)
    new_password = "meadow tractor cinnamon"
    changed = fresh.submit(
        "/account/password",
        {
            "current_password": temporary,
            "new_password": new_password,
            "repeat_password": new_password,
        },
    )
    assert changed.status_code == 303
    assert fresh.get("/dashboard/arrivals").status_code == 200
    assert Browser(server).login(NURSE[0], temporary).status_code == 401
    _nurse(server, new_password)
    # From the CLI: a random temporary password is printed, the change is forced again.
    done = cli(server, "reset-password", NURSE[0])
    assert done.returncode == 0, done.stderr
    printed = done.stdout.strip().rsplit(" ", 1)[-1]
    again = _nurse(server, printed)
    assert again.get("/dashboard/questions").headers["location"] == "/account/password"
    actions = audit_actions(server)
    assert (ADMIN[0], "staff.reset_password", f"staff:{nurse_id}") in actions
    assert (NURSE[0], "account.password_change", f"staff:{nurse_id}") in actions
    assert ("cli", "staff.reset_password", f"staff:{nurse_id}") in actions
    assert temporary not in str(actions) and printed not in str(actions)


def test_ending_a_users_sessions_signs_them_out_everywhere(server: ServerProcess) -> None:
    desk, tablet = _nurse(server), _nurse(server)
    admin = _admin(server)
    nurse_id = user_id_on_admin_page(admin, NURSE[0])
    assert admin.submit(f"/dashboard/admin/staff/{nurse_id}/end-sessions").status_code == 303
    assert desk.signed_in_as() is None and tablet.signed_in_as() is None
    assert admin.signed_in_as() == ADMIN[0]
    laptop = _nurse(server)  # the account itself still works
    done = cli(server, "end-sessions", NURSE[0])
    assert done.returncode == 0 and "ended 1 session" in done.stdout
    assert laptop.signed_in_as() is None
    assert (ADMIN[0], "staff.end_sessions", f"staff:{nurse_id}") in audit_actions(server)


def test_changing_ones_own_password_keeps_this_session_and_ends_the_others(
    server: ServerProcess,
) -> None:
    other = _nurse(server)
    nurse = _nurse(server)
    account = nurse.get("/account")
    assert account.status_code == 200
    # Last sign-in is shown to the user and to admins.
    assert re.search(r'id="last-sign-in">\d{4}-\d\d-\d\d \d\d:\d\d<', account.text)
    admin = _admin(server)
    row = re.search(r'id="staff-nurse-okoro".*?</tr>', admin.get("/dashboard/admin").text, re.S)
    assert row is not None and re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d</td>", row.group(0))
    assert re.search(
        r"nurse-okoro\s+staff\s+active\s+last sign-in \d{4}-", cli(server, "list-users").stdout
    )

    wrong = nurse.submit(
        "/account/password",
        {
            "current_password": "not it at all",
            "new_password": "x" * 20,
            "repeat_password": "x" * 20,
        },
    )
    assert wrong.status_code == 422 and "The current password is wrong." in wrong.text
    new_password = "lighthouse marmalade"
    done = nurse.submit(
        "/account/password",
        {
            "current_password": NURSE[1],
            "new_password": new_password,
            "repeat_password": new_password,
        },
    )
    assert done.status_code == 303
    assert nurse.signed_in_as() == NURSE[0]
    assert other.signed_in_as() is None
    assert Browser(server).login(*NURSE).status_code == 401
    _nurse(server, new_password)


WEAK_PASSWORDS = [
    ("tiny pass", "at least 12 characters long (this one has 9)"),
    ("            ", "cannot be only spaces"),
    ("password1234", "one of the most common passwords"),
    ("qwertyuiop123", "one of the most common passwords"),
    ("iloveyou12345", "too easy to guess"),
    ("nurse-okoro-2024", "derived from the user name"),
    ("Okoro.Nurse.1", "derived from the user name"),
    ("orokoesrun1234", "derived from the user name"),
]


def test_weak_common_and_username_derived_passwords_are_refused_with_a_precise_message(
    server: ServerProcess,
) -> None:
    nurse = _nurse(server)
    admin = _admin(server)
    for password, message in WEAK_PASSWORDS:
        answer = nurse.submit(
            "/account/password",
            {"current_password": NURSE[1], "new_password": password, "repeat_password": password},
        )
        assert answer.status_code == 422, password
        assert message in answer.text, (password, message)
        # The admin form applies the same policy when an account is created (the name holds
        # the same parts as the nurse's, so "derived" is judged the same way).
        made = admin.submit(
            "/dashboard/admin/staff",
            {"username": "okoro-nurse", "password": password, "role": "staff"},
        )
        assert made.status_code == 422 and message in made.text, password
    assert nurse.signed_in_as() == NURSE[0]  # nothing changed, the session lives on
    assert Browser(server).login(*NURSE).status_code == 303
    # The CLI too (one case each: a process per case costs seconds).
    for password, message in (WEAK_PASSWORDS[0], WEAK_PASSWORDS[2], WEAK_PASSWORDS[5]):
        created = cli(
            server, "create-user", "okoro-nurse", "--password-stdin", stdin=password + "\n"
        )
        assert created.returncode == 1 and message in created.stderr, created.stderr
    assert "okoro-nurse" not in cli(server, "list-users").stdout
