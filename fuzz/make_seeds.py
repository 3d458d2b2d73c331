#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into corpus/<target>/ (deterministic:
re-running it rewrites the same files). Tokens are signed with the HS256 key of
keys.json and valid at FUZZ_NOW of src/lib.rs."""
import base64, hashlib, hmac, json, os

HERE = os.path.dirname(os.path.abspath(__file__))
NOW = 1_767_225_600
SECRET = bytes(range(32))
FIX = os.path.join(HERE, "..", "crates", "auth-core", "tests", "fixtures")


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(header, claims, secret=SECRET):
    msg = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    sig = hmac.new(secret, msg.encode(), hashlib.sha256).digest()
    return msg + "." + b64(sig)


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


HEADER = {"alg": "HS256", "typ": "at+jwt", "kid": "hs"}
CLAIMS = {
    "iss": "https://authd.fuzz", "aud": "authd-fuzz",
    "sub": "7c8d0ac4-2f5a-4c39-9b1e-0d6a2d1b5e11", "sid": "0b3e8f9a-61d2-4f1c-8a77-3c5d9e2f4a10",
    "iat": NOW, "nbf": NOW, "exp": NOW + 900, "jti": "00112233445566778899aabbccddeeff",
    "market": "se",
}

# access_token: mode byte 0 = raw token text, 1 = header \n claims (signed by the target).
variants = {
    "valid": (HEADER, CLAIMS),
    "aud_list": (HEADER, dict(CLAIMS, aud=["other", "authd-fuzz"])),
    "expired": (HEADER, dict(CLAIMS, exp=NOW - 100)),
    "future_nbf": (HEADER, dict(CLAIMS, nbf=NOW + 1000)),
    "long_life": (HEADER, dict(CLAIMS, exp=NOW + 90000)),
    "wrong_typ": (dict(HEADER, typ="JWT"), CLAIMS),
    "jwk_header": (dict(HEADER, jwk={"kty": "oct", "k": "AA"}), CLAIMS),
    "none_alg": (dict(HEADER, alg="none"), CLAIMS),
    "es_kid": (dict(HEADER, alg="ES256", kid="es"), CLAIMS),
    "ed_kid": (dict(HEADER, alg="EdDSA", kid="ed"), CLAIMS),
    "rs_kid": (dict(HEADER, alg="RS256", kid="rs"), CLAIMS),
    "no_sid": (HEADER, {k: v for k, v in CLAIMS.items() if k != "sid"}),
}
for name, (h, c) in variants.items():
    write("access_token", "raw_" + name, b"\x00" + jwt(h, c).encode())
    write("access_token", "signed_" + name,
          b"\x01" + json.dumps(h).encode() + b"\n" + json.dumps(c).encode())
write("access_token", "raw_bad_sig", b"\x00" + jwt(HEADER, CLAIMS, b"x" * 32).encode())
write("access_token", "raw_refresh_token", b"\x00rt_" + b"A" * 43)

# refresh_token
write("refresh_token", "valid", "rt_" + b64(bytes(range(32))))
write("refresh_token", "short", "rt_abc")
write("refresh_token", "padded", "rt_" + base64.urlsafe_b64encode(bytes(32)).decode())
write("refresh_token", "jwt", jwt(HEADER, CLAIMS))

# http_bodies: route byte (0 register, 1 login, 2 refresh, 3 revoke), content-type byte
# (0 JSON, 1 form, 2 none), body.
bodies = [
    (0, 0, json.dumps({"email": "a@example.com", "password": "correct horse battery"})),
    (0, 1, "email=b%40example.com&password=correct+horse+battery"),
    (1, 0, json.dumps({"email": "a@example.com", "password": "correct horse battery"})),
    (1, 1, "email=a%40example.com&password=wrong"),
    (1, 2, json.dumps({"email": "A@Example.COM ", "password": ""})),
    (2, 0, json.dumps({"refresh_token": "rt_" + b64(bytes(range(32)))})),
    (2, 1, "refresh_token=rt_" + b64(bytes(32))),
    (3, 0, json.dumps({"token": jwt(HEADER, CLAIMS), "token_type_hint": "access_token"})),
    (3, 1, "token=rt_" + b64(bytes(range(32))) + "&token_type_hint=refresh_token"),
    (0, 0, '{"email": "\\u0000@x", "password": 1}'),
]
for i, (route, ct, body) in enumerate(bodies):
    write("http_bodies", f"body_{i}", bytes([route, ct]) + body.encode())

# key_file
def read(name):
    with open(os.path.join(FIX, name)) as f:
        return f.read()

with open(os.path.join(HERE, "keys.json")) as f:
    write("key_file", "fuzz_keys", f.read())
priv = {"EdDSA": "ed25519-private.pem", "ES256": "p256-private.pem", "RS256": "rsa2048-private.pem"}
for alg, pem in priv.items():
    write("key_file", "private_" + alg,
          json.dumps({"active": "k", "keys": [{"kid": "k", "alg": alg, "private_pem": read(pem)}]}))
write("key_file", "weak_rsa", json.dumps({"active": "k", "keys": [
    {"kid": "k", "alg": "RS256", "private_pem": read("rsa1024-private.pem")}]}))
write("key_file", "hmac", json.dumps({"active": "k", "keys": [
    {"kid": "k", "alg": "HS512", "hmac_secret_b64": base64.b64encode(bytes(64)).decode()}]}))
write("key_file", "pkcs8_b64", json.dumps({"active": "k", "keys": [
    {"kid": "k", "alg": "ES256", "pkcs8_der_b64": "".join(
        l for l in read("p256-private.pem").splitlines() if not l.startswith("-----"))}]}))

# password_hash: password \0 stored hash (cheap parameters, see the target).
def pbkdf2(pw, salt, rounds):
    dk = hashlib.pbkdf2_hmac("sha256", pw.encode(), salt, rounds, 32)
    s = base64.b64encode(salt).rstrip(b"=").decode()
    return f"$pbkdf2-sha256$i={rounds},l=32${s}${base64.b64encode(dk).rstrip(b'=').decode()}"

write("password_hash", "pbkdf2_ok", "hunter22\0" + pbkdf2("hunter22", b"saltsaltsalt", 1000))
write("password_hash", "pbkdf2_wrong", "hunter23\0" + pbkdf2("hunter22", b"saltsaltsalt", 1000))
write("password_hash", "argon2id", "pw\0$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
write("password_hash", "garbage", "pw\0$md5$abc")
write("password_hash", "django", "pw\0pbkdf2_sha256$1000$salt$aGFzaA==")

# dpop_proof: \x01 + header JSON \n claims JSON (the target puts the fuzz P-256 JWK in
# the header and signs), or \x00 + a proof as received. A second byte that is odd
# (the tab of `{\t`) makes the target present an access token, so `ath` is checked.
DPOP_URL = "https://authd.fuzz/v1/auth/refresh"
ATH = b64(hashlib.sha256(b"fuzz-access-token").digest())
def compact(value):
    return json.dumps(value, separators=(",", ":"))
def dpop_claims(jti, **extra):
    return compact({"jti": jti, "htm": "POST", "htu": DPOP_URL, "iat": NOW, **extra})
write("dpop_proof", "signed_valid",
      b"\x01" + b'{"typ":"dpop+jwt","alg":"ES256"}\n' + dpop_claims("seed-1").encode())
write("dpop_proof", "signed_ath",
      b"\x01" + b'{\t"typ":"dpop+jwt","alg":"ES256"}\n'
      + compact({"jti": "seed-2", "htm": "POST", "htu": DPOP_URL + "?q=1", "iat": NOW - 30,
                 "ath": ATH}).encode())
write("dpop_proof", "signed_wrong_ath",
      b"\x01" + b'{\t"typ":"dpop+jwt","alg":"ES256","crit":["x"]}\n'
      + dpop_claims("seed-3", nonce="x", ath="wrong").encode())
write("dpop_proof", "signed_hs256",
      b"\x01" + b'{"typ":"dpop+jwt","alg":"HS256"}\n' + dpop_claims("seed-1").encode())
write("dpop_proof", "raw_private_jwk", b"\x00" + (
    b64(compact({"typ": "dpop+jwt", "alg": "ES256",
                 "jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "d": "AA"}}).encode())
    + "." + b64(dpop_claims("seed-1").encode()) + ".AAAA").encode())
write("dpop_proof", "raw_garbage", b"\x00a.b.c")
