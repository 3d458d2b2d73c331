"""DPoP (RFC 9449) with proofs made by jwcrypto: a bound login, authenticated resource
requests, refreshes that need the device's key, and the proofs authd must refuse
(replayed, wrong htu, wrong key, expired, without ath, bound token sent as Bearer)."""
import base64
import hashlib
import json
import time
import uuid

import requests
from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

from conftest import ISSUER


def new_key(kind="EC"):
    if kind == "OKP":
        return jwk.JWK.generate(kty="OKP", crv="Ed25519")
    return jwk.JWK.generate(kty="EC", crv="P-256")


def proof(key, method, url, access_token=None, iat=None, jti=None):
    """A DPoP proof JWT signed by `key` for one request."""
    alg = "EdDSA" if key.get("kty") == "OKP" else "ES256"
    claims = {
        "jti": jti or uuid.uuid4().hex,
        "htm": method,
        "htu": url,
        "iat": int(time.time()) if iat is None else iat,
    }
    if access_token is not None:
        digest = hashlib.sha256(access_token.encode()).digest()
        claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.export_public(as_dict=True)}
    token = jws.JWS(json_encode(claims))
    token.add_signature(key, alg=None, protected=json_encode(header))
    return token.serialize(compact=True)


def claims_of(access_token):
    payload = access_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


LOGIN = f"{ISSUER}/v1/auth/login"
REFRESH = f"{ISSUER}/v1/auth/refresh"
ME = f"{ISSUER}/v1/me"


def bound_login(user, key):
    email, password = user
    r = requests.post(
        LOGIN,
        json={"email": email, "password": password, "device_name": "jwcrypto device"},
        headers={"DPoP": proof(key, "POST", LOGIN)},
    )
    assert r.status_code == 200, r.text
    return r.json()


def me(access_token, dpop_proof, scheme="DPoP"):
    headers = {"Authorization": f"{scheme} {access_token}"}
    if dpop_proof is not None:
        headers["DPoP"] = dpop_proof
    return requests.get(ME, headers=headers)


def test_login_with_a_proof_binds_the_tokens_to_the_key(user):
    for kind in ("EC", "OKP"):
        key = new_key(kind)
        tokens = bound_login(user, key)
        assert tokens["token_type"] == "DPoP"
        assert claims_of(tokens["access_token"])["cnf"] == {"jkt": key.thumbprint()}
        access = tokens["access_token"]
        r = me(access, proof(key, "GET", ME, access_token=access))
        assert r.status_code == 200, r.text
        # A query string is not part of htu.
        r = requests.get(
            f"{ME}?view=full",
            headers={
                "Authorization": f"DPoP {access}",
                "DPoP": proof(key, "GET", ME, access_token=access),
            },
        )
        assert r.status_code == 200, r.text


def test_resource_requests_refuse_bad_proofs(user):
    key = new_key()
    access = bound_login(user, key)["access_token"]
    good = proof(key, "GET", ME, access_token=access)
    assert me(access, good).status_code == 200
    refusals = {
        "replayed": good,
        "wrong htu": proof(key, "GET", f"{ISSUER}/v1/auth/sessions", access_token=access),
        "wrong htm": proof(key, "POST", ME, access_token=access),
        "wrong key": proof(new_key(), "GET", ME, access_token=access),
        "expired": proof(key, "GET", ME, access_token=access, iat=int(time.time()) - 600),
        "from the future": proof(key, "GET", ME, access_token=access, iat=int(time.time()) + 600),
        "without ath": proof(key, "GET", ME),
        "ath of another token": proof(key, "GET", ME, access_token=access + "x"),
    }
    for name, bad in refusals.items():
        r = me(access, bad)
        assert r.status_code == 401, f"{name}: {r.status_code} {r.text}"
        assert r.headers["WWW-Authenticate"].startswith("DPoP "), name
        assert r.json()["error"] == "invalid_dpop_proof", name
    r = me(access, None)
    assert r.status_code == 401 and r.json()["error"] == "invalid_dpop_proof"
    # No downgrade: the bound token as a bearer token is refused.
    r = me(access, None, scheme="Bearer")
    assert r.status_code == 401, r.text
    assert r.headers["WWW-Authenticate"] == 'DPoP realm="authd", error="invalid_token"'


def test_refresh_needs_the_device_key(user):
    key = new_key()
    tokens = bound_login(user, key)
    body = {"refresh_token": tokens["refresh_token"]}
    for name, headers in {
        "no proof": {},
        "another key": {"DPoP": proof(new_key(), "POST", REFRESH)},
    }.items():
        r = requests.post(REFRESH, json=body, headers=headers)
        assert r.status_code == 400, f"{name}: {r.text}"
        assert r.json()["error"] == "invalid_grant", name
    for name, bad in {
        "wrong htu": proof(key, "POST", LOGIN),
        "expired": proof(key, "POST", REFRESH, iat=int(time.time()) - 600),
    }.items():
        r = requests.post(REFRESH, json=body, headers={"DPoP": bad})
        assert r.status_code == 400, f"{name}: {r.text}"
        assert r.json()["error"] == "invalid_dpop_proof", name
    good = proof(key, "POST", REFRESH)
    r = requests.post(REFRESH, json=body, headers={"DPoP": good})
    assert r.status_code == 200, r.text
    renewed = r.json()
    assert renewed["token_type"] == "DPoP"
    assert renewed["session_id"] == tokens["session_id"]
    assert claims_of(renewed["access_token"])["cnf"] == {"jkt": key.thumbprint()}
    # The same proof again is a replay, refused before the token is looked at.
    r = requests.post(REFRESH, json={"refresh_token": renewed["refresh_token"]}, headers={"DPoP": good})
    assert r.status_code == 400 and r.json()["error"] == "invalid_dpop_proof", r.text
    # The session survived every refusal, and lists as bound with its device name.
    access = renewed["access_token"]
    r = requests.get(
        f"{ISSUER}/v1/auth/sessions",
        headers={
            "Authorization": f"DPoP {access}",
            "DPoP": proof(key, "GET", f"{ISSUER}/v1/auth/sessions", access_token=access),
        },
    )
    assert r.status_code == 200, r.text
    [session] = r.json()
    assert session["dpop_bound"] is True
    assert session["device_name"] == "jwcrypto device"


def test_metadata_lists_the_proof_algorithms(metadata):
    assert set(metadata["dpop_signing_alg_values_supported"]) >= {"ES256", "EdDSA"}
