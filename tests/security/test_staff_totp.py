"""Optional TOTP second factor: enrolment with a QR code, sign-in, single-use recovery codes."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from urllib.parse import parse_qs, unquote, urlparse

import pyotp
import zxingcpp
from PIL import Image, ImageDraw
from serverproc import ServerProcess
from staff_support import ADMIN, NURSE, Browser, audit_actions, cli, create_user

_SQUARE = re.compile(r"M(\d+),(\d+)H(\d+)V(\d+)H(\d+)z")


def _decode_qr_svg(svg: str) -> str:
    """Draw the server's SVG QR code (unit squares of one path) and decode it with zxing."""
    box = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    path = re.search(r' d="([^"]+)"', svg)
    assert box is not None and path is not None, svg[:300]
    scale = 8
    size = int(box.group(1))
    image = Image.new("L", (size * scale, size * scale), 255)
    draw = ImageDraw.Draw(image)
    squares = _SQUARE.findall(path.group(1))
    assert len(squares) > 100
    for x, y, x2, y2, _ in squares:
        left, top = int(x) * scale, int(y) * scale
        draw.rectangle((left, top, int(x2) * scale - 1, int(y2) * scale - 1), fill=0)
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1, "the QR code did not decode"
    return str(results[0].text)


def _code(secret: str, *, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def test_totp_enrolment_sign_in_and_single_use_recovery_codes(
    start_clinic_server: Callable[..., ServerProcess],
) -> None:
    server = start_clinic_server()
    create_user(server, *ADMIN, admin=True)
    create_user(server, *NURSE)
    admin = Browser(server)
    assert admin.login(*ADMIN).status_code == 303
    assert 'id="totp-start"' in admin.get("/account").text

    enrol = admin.submit("/account/totp/start")
    assert enrol.status_code == 200 and enrol.headers["cache-control"] == "no-store"
    secret_shown = re.search(r'id="totp-secret">([A-Z2-7]+)<', enrol.text)
    svg = re.search(r'<figure id="totp-qr"[^>]*>(.*?)</figure>', enrol.text, re.S)
    assert secret_shown is not None and svg is not None
    uri = _decode_qr_svg(svg.group(1))
    parsed = urlparse(uri)
    assert parsed.scheme == "otpauth" and parsed.netloc == "totp"
    assert ADMIN[0] in unquote(parsed.path)
    secret = parse_qs(parsed.query)["secret"][0]
    assert secret == secret_shown.group(1)

    # Not on until a right code confirms it: a wrong code leaves it off, sign-in unchanged.
    wrong = admin.submit(
        "/account/totp/confirm", {"code": "000000" if _code(secret) != "000000" else "111111"}
    )
    assert wrong.status_code == 422 and "That code is not right" in wrong.text
    probe = Browser(server)
    assert probe.login(*ADMIN).status_code == 303 and probe.signed_in_as() == ADMIN[0]

    enrolment_code = _code(secret)
    confirmed = admin.submit("/account/totp/confirm", {"code": enrolment_code})
    assert confirmed.status_code == 200
    recovery = re.findall(
        r"<li><code>([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})</code></li>", confirmed.text
    )
    assert len(recovery) == 10 and len(set(recovery)) == 10
    assert "Two-step sign-in is on" in confirmed.text

    # Sign-in now takes the password, then a code; in between the session opens nothing.
    phone = Browser(server)
    first = phone.login(*ADMIN)
    assert first.status_code == 303 and first.headers["location"].startswith("/login/second-factor")
    assert phone.signed_in_as() is None
    assert phone.get("/dashboard/admin").status_code == 303
    step = phone.get(first.headers["location"])
    token = re.search(r'name="csrf_token" value="([^"]+)"', step.text)
    assert step.status_code == 200 and token is not None
    bad = phone.post("/login/second-factor", {"code": "12345", "csrf_token": token.group(1)})
    assert bad.status_code == 401 and phone.signed_in_as() is None
    # The code used for enrolment cannot be used again (even while its 30 s step is still
    # accepted); the next step's code works.
    replay = phone.post(
        "/login/second-factor", {"code": enrolment_code, "csrf_token": token.group(1)}
    )
    assert replay.status_code == 401
    ok = phone.post(
        "/login/second-factor",
        {"code": _code(secret, offset_steps=1), "csrf_token": token.group(1)},
    )
    assert ok.status_code == 303 and phone.signed_in_as() == ADMIN[0]

    # A recovery code signs in once; the second time it is refused.
    for attempt, expected in ((1, 303), (2, 401)):
        lost_phone = Browser(server)
        assert lost_phone.login(*ADMIN).status_code == 303
        page = lost_phone.get("/login/second-factor")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        used = lost_phone.post(
            "/login/second-factor", {"code": recovery[0].lower(), "csrf_token": token.group(1)}
        )
        assert used.status_code == expected, attempt
    assert "Recovery codes left: 9" in phone.get("/account").text

    # Lost phone and codes: another route back is the CLI (audited).
    done = cli(server, "reset-totp", ADMIN[0])
    assert done.returncode == 0, done.stderr
    # This address failed three codes above, so the account's slow-down holds it for a
    # moment; the operator clears that too.
    assert cli(server, "unlock", ADMIN[0]).returncode == 0
    plain = Browser(server)
    assert plain.login(*ADMIN).status_code == 303 and plain.signed_in_as() == ADMIN[0]
    actions = [(actor, action) for actor, action, _ in audit_actions(server)]
    for expected_action in (
        (ADMIN[0], "account.totp_start"),
        (ADMIN[0], "account.totp_on"),
        (ADMIN[0], "login.second_factor_failed"),
        ("cli", "staff.reset_totp"),
    ):
        assert expected_action in actions
    assert all(code not in str(actions) for code in recovery)
