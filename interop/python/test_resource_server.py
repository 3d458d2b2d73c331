"""A resource server built with auth-axum (its `protect` example, following authd's
revocation feed) refuses a token within the stated bound after logout, without
calling authd per request."""
import os
import time

import requests

from conftest import ISSUER, password_grant

BOUND = float(os.environ.get("REVOCATION_BOUND_SECONDS", "2"))


def test_logout_reaches_the_resource_server_within_the_bound(user):
    url = os.environ["PROTECTED_URL"]
    access = password_grant(os.environ["PUBLIC_CLIENT_ID"], *user)["access_token"]
    bearer = {"Authorization": f"Bearer {access}"}
    r = requests.get(url, headers=bearer)
    assert r.status_code == 200, r.text
    assert r.text.startswith("hello ")
    assert requests.get(url).status_code == 401

    r = requests.post(f"{ISSUER}/v1/auth/logout", headers=bearer)
    assert r.status_code == 204, r.text
    logged_out = time.monotonic()
    while True:
        r = requests.get(url, headers=bearer)
        elapsed = time.monotonic() - logged_out
        if r.status_code == 401:
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
            break
        assert r.status_code == 200, r.text
        assert elapsed < BOUND, f"token still accepted {elapsed:.2f} s after logout"
        time.sleep(0.05)
    print(f"refused {elapsed:.3f} s after logout (bound {BOUND} s)")
