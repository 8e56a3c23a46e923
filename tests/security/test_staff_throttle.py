"""Sign-in throttling that cannot be turned into a lock-out, over HTTP to a real server.

Addresses are told apart by X-Forwarded-For from a proxy the server trusts (loopback, as
CLINIC_TRUSTED_PROXIES names it); from an untrusted peer the header changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from serverproc import ServerProcess
from staff_support import (
    ADMIN,
    NURSE,
    WRONG,
    Browser,
    audit_actions,
    cli,
    create_user,
    user_id_on_admin_page,
)

ATTACKER = "203.0.113.66"
OFFICE = "198.51.100.7"
HOME = "198.51.100.99"


def _proxied(start: Callable[..., ServerProcess]) -> ServerProcess:
    # A long slow-down, so a slow machine's pauses between requests cannot end it.
    server = start(
        trusted_proxies="127.0.0.1/32",
        login_slowdown_base_seconds="600",
        login_slowdown_max_seconds="600",
    )
    create_user(server, *ADMIN, admin=True)
    create_user(server, *NURSE)
    return server


def test_a_failing_address_cannot_stop_the_real_user_signing_in_from_another(
    start_clinic_server: Callable[..., ServerProcess],
) -> None:
    server = _proxied(start_clinic_server)
    attacker = Browser(server, forwarded_for=ATTACKER)
    answers = [attacker.login(ADMIN[0], WRONG).status_code for _ in range(12)]
    # Wrong guesses are answered 401 until the attacker's address is throttled (429).
    assert answers[0] == 401 and answers[-1] == 429, answers
    assert set(answers) == {401, 429}
    # Even the right password from the attacking address waits now...
    assert attacker.login(*ADMIN).status_code == 429
    assert attacker.signed_in_as() is None
    # ...but the real admin, from the office, signs in at once, and so does the admin from
    # home, an address the account has never seen.
    for address in (OFFICE, HOME):
        admin = Browser(server, forwarded_for=address)
        assert admin.login(*ADMIN).status_code == 303
        assert admin.signed_in_as() == ADMIN[0]
    # An address spraying many accounts is refused for all of them; others are not.
    sprayer = Browser(server, forwarded_for="203.0.113.67")
    for n in range(20):
        sprayer.login(f"guess-{n}", WRONG)
    assert sprayer.login(*NURSE).status_code == 429
    assert Browser(server, forwarded_for=OFFICE).login(*NURSE).status_code == 303


def test_the_account_slow_down_delays_only_addresses_that_failed_on_it(
    start_clinic_server: Callable[..., ServerProcess],
) -> None:
    # A first delay long enough that no slow machine lets it pass between two requests.
    server = start_clinic_server(trusted_proxies="127.0.0.1/32", login_slowdown_base_seconds="40")
    create_user(server, *NURSE)
    # A guess each from a few addresses: the account is now under attack.
    for n in range(3):
        assert (
            Browser(server, forwarded_for=f"203.0.113.{n + 1}")
            .login(*(NURSE[0], WRONG))
            .status_code
            == 401
        )
    again = Browser(server, forwarded_for="203.0.113.1")
    slowed = again.login(NURSE[0], WRONG)
    assert slowed.status_code == 429
    assert 30 <= int(slowed.headers["Retry-After"]) <= 60
    # An address that did not fail is still answered, wrong or right.
    fresh = Browser(server, forwarded_for=HOME)
    assert fresh.login(NURSE[0], WRONG).status_code == 401
    assert Browser(server, forwarded_for=OFFICE).login(*NURSE).status_code == 303


def test_forwarded_for_from_an_untrusted_peer_changes_nothing(
    start_clinic_server: Callable[..., ServerProcess],
) -> None:
    # No trusted proxy. A long slow-down, so a slow machine's pauses cannot end it.
    slow = {"login_slowdown_base_seconds": "600", "login_slowdown_max_seconds": "600"}
    server = start_clinic_server(**slow)
    create_user(server, *NURSE)
    answers = []
    for n in range(8):
        # A new forged address each time: the server still sees one client, 127.0.0.1.
        answers.append(
            Browser(server, forwarded_for=f"192.0.2.{n}").login(NURSE[0], WRONG).status_code
        )
    assert answers[-1] == 429, answers
    assert Browser(server, forwarded_for="192.0.2.200").login(*NURSE).status_code == 429
    # The count is in the database: a second server process on it refuses the same way.
    second = start_clinic_server(**slow)
    assert Browser(second).login(*NURSE).status_code == 429


def test_unlock_through_the_cli_and_the_admin_button(
    start_clinic_server: Callable[..., ServerProcess],
) -> None:
    server = _proxied(start_clinic_server)
    attacker = Browser(server, forwarded_for=ATTACKER)
    for _ in range(6):
        attacker.login(NURSE[0], WRONG)
    assert attacker.login(*NURSE).status_code == 429

    done = cli(server, "unlock", NURSE[0])
    assert done.returncode == 0, done.stderr
    assert "failed sign-ins forgotten" in done.stdout
    assert Browser(server, forwarded_for=ATTACKER).login(*NURSE).status_code == 303

    for _ in range(6):
        attacker.login(NURSE[0], WRONG)
    assert attacker.login(*NURSE).status_code == 429
    admin = Browser(server, forwarded_for=OFFICE)
    assert admin.login(*ADMIN).status_code == 303
    page = admin.get("/dashboard/admin")
    assert f"/dashboard/admin/staff/{user_id_on_admin_page(admin, NURSE[0])}/unlock" in page.text
    unlocked = admin.submit(
        f"/dashboard/admin/staff/{user_id_on_admin_page(admin, NURSE[0])}/unlock"
    )
    assert unlocked.status_code == 303
    assert "forgotten" in admin.get(unlocked.headers["location"]).text
    assert Browser(server, forwarded_for=ATTACKER).login(*NURSE).status_code == 303

    actions = [(actor, action) for actor, action, _ in audit_actions(server)]
    assert ("cli", "staff.unlock") in actions and (ADMIN[0], "staff.unlock") in actions


def test_odd_user_names_are_counted_as_failures_not_server_errors(
    start_clinic_server: Callable[..., ServerProcess],
) -> None:
    # PostgreSQL refuses NUL in text: recording such an attempt once answered 500.
    server = start_clinic_server()
    create_user(server, *NURSE)
    stranger = Browser(server)
    for name in ("nurse\x00okoro", "\x00", "n" * 300, "nurse-okoro\x00"):
        assert stranger.login(name, WRONG + "\x00").status_code in (401, 422, 429), repr(name)
    assert Browser(server).login(*NURSE).status_code == 303
    listed = cli(server, "list-users")
    assert listed.returncode == 0 and "nurse-okoro" in listed.stdout
