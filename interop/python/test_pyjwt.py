"""PyJWT: PyJWKClient fetches authd's JWKS and verifies an access token (ES256, typ at+jwt)."""
import os

import jwt
from jwt import PyJWKClient

from conftest import AUDIENCE, ISSUER, password_grant


def test_pyjwkclient_verifies_an_access_token(user, metadata):
    tokens = password_grant(os.environ["PUBLIC_CLIENT_ID"], *user, scope="read")
    access = tokens["access_token"]
    client = PyJWKClient(metadata["jwks_uri"])
    key = client.get_signing_key_from_jwt(access)
    header = jwt.get_unverified_header(access)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    claims = jwt.decode(
        access,
        key,
        algorithms=["ES256"],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]},
    )
    assert claims["client_id"] == os.environ["PUBLIC_CLIENT_ID"]
    assert claims["scope"] == "read"
    assert claims["sub"]


def test_pyjwt_refuses_a_tampered_token(user, metadata):
    access = password_grant(os.environ["PUBLIC_CLIENT_ID"], *user)["access_token"]
    header, payload, signature = access.split(".")
    tampered = ".".join([header, payload, signature[:-4] + ("AAAA" if not signature.endswith("AAAA") else "BBBB")])
    key = PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(access)
    try:
        jwt.decode(tampered, key, algorithms=["ES256"], audience=AUDIENCE, issuer=ISSUER)
    except jwt.InvalidSignatureError:
        return
    raise AssertionError("a tampered token verified")
