"""The admin's staff table and a user's account page in real Chromium.

An admin adds a locum, resets the locum's password, the locum is made to choose a new
one, sets up two-step sign-in from the QR code seen on screen, and is disabled while
signed in.
"""

from __future__ import annotations

import io
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import pyotp
import zxingcpp
from browser_support import Server, login, shoot
from PIL import Image

LOCUM = "locum-adeyemi"


def _locum_row(page: Any) -> Any:
    return page.locator(f"tr#staff-{LOCUM}")


def test_admin_manages_a_locum_account_and_the_locum_sets_up_two_step_sign_in(
    server: Server, browser: Any
) -> None:
    admin_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    locum_ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    try:
        admin = admin_ctx.new_page()
        login(admin, server.base_url)
        admin.goto(server.base_url + "/dashboard/admin")
        add = admin.locator("form[action='/dashboard/admin/staff']")
        add.locator("input[name=username]").fill(LOCUM)
        add.locator("input[name=password]").fill("locum2024")  # too short: refused
        add.locator("input[name=password]").evaluate("e => e.removeAttribute('minlength')")
        add.locator("button").click()
        assert "at least 12 characters" in admin.locator(".error").inner_text()
        add = admin.locator("form[action='/dashboard/admin/staff']")
        add.locator("input[name=username]").fill(LOCUM)
        add.locator("input[name=password]").fill("saffron kettle harbour")
        add.locator("button").click()
        admin.wait_for_url("**ok=staff")
        assert "never" in _locum_row(admin).inner_text()  # no sign-in yet

        _locum_row(admin).locator("button[name=reset-password]").click()
        notice = admin.locator("#temporary-password")
        temporary = notice.locator("code").inner_text().strip()
        assert LOCUM in notice.inner_text() and len(temporary) >= 12
        shoot(admin, "admin-staff-reset-password")

        locum = locum_ctx.new_page()
        locum.goto(server.base_url + "/dashboard/arrivals")
        locum.fill("input[name=username]", LOCUM)
        locum.fill("input[name=password]", temporary)
        locum.click("button[type=submit]")
        locum.wait_for_url("**/account/password")
        assert "Choose a new password" in locum.locator("#password-change-required").inner_text()
        form = locum.locator("#change-password form")
        form.locator("input[name=current_password]").fill(temporary)
        form.locator("input[name=new_password]").fill("walnut glacier sonnet")
        form.locator("input[name=repeat_password]").fill("walnut glacier sonnet")
        form.locator("button").click()
        locum.wait_for_url("**/account?ok=password")

        # Two-step sign-in: the QR code on screen is what an authenticator app reads.
        locum.locator("#totp-start").click()
        qr = locum.locator("#totp-qr")
        png = qr.screenshot()
        decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
        assert len(decoded) == 1
        uri = urlparse(decoded[0].text)
        secret = parse_qs(uri.query)["secret"][0]
        assert secret == locum.locator("#totp-secret").inner_text().strip()
        shoot(locum, "account-two-step-setup")
        locum.fill("input[name=code]", pyotp.TOTP(secret).at(time.time()))
        locum.locator("#totp-confirm").click()
        codes = re.findall(
            r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", locum.locator("#recovery-codes").inner_text()
        )
        assert len(codes) == 10
        locum.goto(server.base_url + "/dashboard/arrivals")
        assert locum.url.endswith("/dashboard/arrivals")

        admin.goto(server.base_url + "/dashboard/admin")
        row = _locum_row(admin).inner_text()
        assert "active" in row and "on" in row and "never" not in row
        _locum_row(admin).locator("button[name=disable]").click()
        admin.wait_for_url("**ok=staff-disabled")
        assert "disabled" in _locum_row(admin).inner_text()

        locum.reload()  # the open page stops working at once
        assert "/login" in locum.url
        assert locum.locator("input[name=username]").is_visible()
    finally:
        admin_ctx.close()
        locum_ctx.close()
