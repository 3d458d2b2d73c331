"""Shared settings of the interop suite: authd's issuer and the clients .ci/interop.sh registered."""
import os
import uuid

import pytest
import requests

ISSUER = os.environ["AUTHD_ISSUER"]
AUDIENCE = os.environ.get("AUTHD_AUDIENCE", "authd")
PASSWORD = "correct horse battery staple"


@pytest.fixture
def user():
    """A freshly registered user: (email, password)."""
    email = f"py-{uuid.uuid4().hex[:12]}@example.com"
    r = requests.post(f"{ISSUER}/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return email, PASSWORD


@pytest.fixture(scope="session")
def metadata():
    r = requests.get(f"{ISSUER}/.well-known/oauth-authorization-server")
    assert r.status_code == 200, r.text
    return r.json()


def password_grant(client_id, email, password, scope=None, secret=None):
    data = {"grant_type": "password", "username": email, "password": password}
    if scope:
        data["scope"] = scope
    auth = None
    if secret:
        auth = (client_id, secret)
    else:
        data["client_id"] = client_id
    r = requests.post(f"{ISSUER}/oauth/token", data=data, auth=auth)
    assert r.status_code == 200, r.text
    return r.json()
