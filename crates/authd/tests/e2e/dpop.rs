//! DPoP over HTTP (RFC 9449): a login with a proof binds the session; resource requests
//! need the `DPoP` scheme and a proof with `ath`; refreshes need the device's key.
//! Proofs come from auth-conformance's hand-built [`DeviceKey`] (the interop suite
//! makes them with jwcrypto).

use auth_conformance::DpopKey as DeviceKey;
use auth_core::time::{Duration, OffsetDateTime};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A proof's `iat`, `age` seconds ago.
fn ago(age: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() - Duration::seconds(age)
}

use crate::harness::{TestDatabase, TestServer, tokens};

const PW: &str = "correct horse battery";

fn access_claims(access_token: &str) -> Value {
    let payload = access_token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&B64.decode(payload).expect("base64")).expect("claims")
}

pub async fn dpop_binds_sessions_and_tokens<D: TestDatabase>() {
    let s = TestServer::<D>::start().await;
    let issuer = s.settings.issuer.clone();
    let url = |path: &str| format!("{issuer}{path}");
    s.register("dpop@example.com", PW).await;
    let key = DeviceKey::generate();
    let r = s
        .http
        .post(s.url("/v1/auth/login"))
        .header(
            "DPoP",
            key.proof("POST", &url("/v1/auth/login"), None, ago(0)),
        )
        .json(&json!({"email": "dpop@example.com", "password": PW, "device_id": "d-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let login = tokens(r).await;
    assert_eq!(login.body["token_type"], "DPoP");
    assert_eq!(
        access_claims(&login.access)["cnf"],
        json!({"jkt": key.thumbprint()})
    );

    let me = |scheme: &'static str, proof: Option<String>| {
        let mut request = s
            .http
            .get(s.url("/v1/me"))
            .header("Authorization", format!("{scheme} {}", login.access));
        if let Some(proof) = proof {
            request = request.header("DPoP", proof);
        }
        request.send()
    };
    let good = key.proof("GET", &url("/v1/me"), Some(&login.access), ago(0));
    assert_eq!(me("DPoP", Some(good.clone())).await.unwrap().status(), 200);
    for (name, bad) in [
        ("replayed", Some(good)),
        ("no proof", None),
        (
            "no ath",
            Some(key.proof("GET", &url("/v1/me"), None, ago(0))),
        ),
        (
            "wrong htu",
            Some(key.proof(
                "GET",
                &url("/v1/auth/sessions"),
                Some(&login.access),
                ago(0),
            )),
        ),
        (
            "another key",
            Some(DeviceKey::generate().proof("GET", &url("/v1/me"), Some(&login.access), ago(0))),
        ),
        (
            "expired",
            Some(key.proof("GET", &url("/v1/me"), Some(&login.access), ago(600))),
        ),
    ] {
        let r = me("DPoP", bad).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{name}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_dpop_proof", "{name}");
    }
    let downgrade = me("Bearer", None).await.unwrap();
    assert_eq!(downgrade.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        downgrade.headers()["www-authenticate"],
        r#"DPoP realm="authd", error="invalid_token""#
    );

    // Refresh: the token alone or with another key's proof is invalid_grant and
    // changes nothing but the audit log; a bad proof is invalid_dpop_proof.
    let before = s.counts().await;
    let refresh = |proof: Option<String>| {
        let mut request = s
            .http
            .post(s.url("/v1/auth/refresh"))
            .json(&json!({"refresh_token": login.refresh}));
        if let Some(proof) = proof {
            request = request.header("DPoP", proof);
        }
        request.send()
    };
    for proof in [
        None,
        Some(DeviceKey::generate().proof("POST", &url("/v1/auth/refresh"), None, ago(0))),
    ] {
        let r = refresh(proof).await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
    }
    let r = refresh(Some(key.proof(
        "POST",
        &url("/v1/auth/login"),
        None,
        ago(0),
    )))
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_dpop_proof"
    );
    let after = s.counts().await;
    assert_eq!(after[..3], before[..3], "no token row changed");
    assert_eq!(after[3], before[3] + 2, "two REFRESH_REFUSED rows");

    let r = refresh(Some(key.proof(
        "POST",
        &url("/v1/auth/refresh"),
        None,
        ago(0),
    )))
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let renewed = tokens(r).await;
    assert_eq!(renewed.body["token_type"], "DPoP");
    assert_eq!(renewed.session, login.session);

    let sessions = s
        .http
        .get(s.url("/v1/auth/sessions"))
        .header("Authorization", format!("DPoP {}", renewed.access))
        .header(
            "DPoP",
            key.proof(
                "GET",
                &url("/v1/auth/sessions"),
                Some(&renewed.access),
                ago(0),
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(sessions.status(), StatusCode::OK);
    let list: Value = sessions.json().await.unwrap();
    assert_eq!(list[0]["dpop_bound"], true);
    assert_eq!(list[0]["device_id"], "d-1");

    // A bearer session stays one: a plain login answers Bearer and its token works so.
    let plain = s.login("dpop@example.com", PW).await;
    assert_eq!(plain.body["token_type"], "Bearer");
    assert_eq!(
        s.get_bearer("/v1/me", &plain.access).await.status(),
        StatusCode::OK
    );
    s.stop().await;
}
