"""authlib: discovery from the issuer, password grant, refresh (explicit and automatic),
RFC 7009 revocation and RFC 7662 introspection; the token verified with joserfc (authlib's
JOSE library) under its default algorithms."""
import os
import time

import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from conftest import AUDIENCE, ISSUER


def discover():
    """Configuration from the issuer alone (RFC 8414 and OpenID discovery agree)."""
    oauth = requests.get(f"{ISSUER}/.well-known/oauth-authorization-server").json()
    oidc = requests.get(f"{ISSUER}/.well-known/openid-configuration").json()
    assert oauth["issuer"] == ISSUER == oidc["issuer"]
    for name in ["token_endpoint", "revocation_endpoint", "introspection_endpoint", "jwks_uri"]:
        assert oauth[name].startswith(ISSUER), name
    assert {"password", "refresh_token"} <= set(oauth["grant_types_supported"])
    assert "ES256" in oauth["access_token_signing_alg_values_supported"]
    return oauth


def session(meta, **kwargs):
    return OAuth2Session(
        os.environ["APP_CLIENT_ID"],
        os.environ["APP_CLIENT_SECRET"],
        scope="read write",
        token_endpoint=meta["token_endpoint"],
        **kwargs,
    )


def introspect(meta, token):
    rs = OAuth2Session(os.environ["RS_CLIENT_ID"], os.environ["RS_CLIENT_SECRET"])
    r = rs.introspect_token(meta["introspection_endpoint"], token=token)
    assert r.status_code == 200, r.text
    return r.json()


def test_password_grant_refresh_revoke_and_introspection(user):
    meta = discover()
    s = session(meta)
    token = s.fetch_token(meta["token_endpoint"], username=user[0], password=user[1])
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "read write"

    key_set = KeySet.import_key_set(requests.get(meta["jwks_uri"]).json())
    verified = jwt.decode(token["access_token"], key_set)
    assert verified.header["alg"] == "ES256" and verified.header["typ"] == "at+jwt"
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": AUDIENCE},
        exp={"essential": True},
    ).validate(verified.claims)
    assert verified.claims["client_id"] == os.environ["APP_CLIENT_ID"]

    info = introspect(meta, token["access_token"])
    assert info["active"] is True and info["client_id"] == os.environ["APP_CLIENT_ID"]
    assert info["scope"] == "read write"

    old_refresh = token["refresh_token"]
    new = s.refresh_token(meta["token_endpoint"], refresh_token=old_refresh)
    assert new["refresh_token"] != old_refresh
    assert introspect(meta, old_refresh)["active"] is False
    assert introspect(meta, new["refresh_token"])["active"] is True

    r = s.revoke_token(meta["revocation_endpoint"], token=new["refresh_token"],
                       token_type_hint="refresh_token")
    assert r.status_code == 200, r.text
    assert introspect(meta, new["refresh_token"])["active"] is False
    # Revoking the refresh token ended the session: its access token is refused too.
    assert introspect(meta, new["access_token"])["active"] is False


def test_automatic_refresh_before_a_call(user):
    meta = discover()
    s = session(meta)
    token = s.fetch_token(meta["token_endpoint"], username=user[0], password=user[1])
    # Pretend the access token expired: authlib refreshes it before the request.
    s.token = dict(token, expires_at=int(time.time()) - 10)
    r = s.get(f"{ISSUER}/v1/me")
    assert r.status_code == 200, r.text
    assert s.token["access_token"] != token["access_token"]
    assert s.token["refresh_token"] != token["refresh_token"]


def test_errors_follow_rfc6749_section_5_2(user):
    meta = discover()
    url = meta["token_endpoint"]
    app = (os.environ["APP_CLIENT_ID"], os.environ["APP_CLIENT_SECRET"])
    r = requests.post(url, data={"grant_type": "client_credentials"}, auth=app)
    assert (r.status_code, r.json()["error"]) == (400, "unsupported_grant_type")
    r = requests.post(url, data={"grant_type": "password", "username": user[0],
                                 "password": "wrong"}, auth=app)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")
    r = requests.post(url, data={"grant_type": "password", "username": user[0],
                                 "password": user[1], "scope": "admin"}, auth=app)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_scope")
    r = requests.post(url, data={"grant_type": "refresh_token"}, auth=app)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")
    r = requests.post(url, data={"grant_type": "password"}, auth=(app[0], "not the secret"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    r = requests.post(url, data={"grant_type": "password", "client_id": os.environ["RS_CLIENT_ID"],
                                 "client_secret": os.environ["RS_CLIENT_SECRET"],
                                 "username": user[0], "password": user[1]})
    assert (r.status_code, r.json()["error"]) == (400, "unauthorized_client")
