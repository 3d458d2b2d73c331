//! A users-table column as an access-token claim over HTTP (seed 002's `market`):
//! authd configured with `user_claim_columns = ["market"]` puts the user's value in
//! the tokens of `/v1/auth/otp/verify`, `/v1/auth/refresh` and `/v1/auth/login`,
//! verified with the published JWKS.

use auth_conformance::UserColumnType;
use auth_core::{UserClaimColumns, UserId};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{TestDatabase as E2eDatabase, TestServer, tokens};
use crate::otp::start_prepared_with_webhook;

const PHONE: &str = "+13128059851";

/// The claims of `access`, verified with the key authd publishes.
async fn verified_claims(s: &TestServer<impl E2eDatabase>, access: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet = s
        .http
        .get(s.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(access).unwrap();
    let jwk = jwks.find(&header.kid.expect("kid")).expect("published key");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[s.settings.issuer.as_str()]);
    validation.set_audience(&[s.settings.audience.as_str()]);
    jsonwebtoken::decode::<Value>(access, &key, &validation)
        .expect("verifies with the JWKS key")
        .claims
}

/// The phone user gets the column's default (`kg`) in the token of its first sign-in,
/// the value the application set since in the token of the next refresh, and a
/// password user its own value.
pub async fn phone_sign_in_carries_the_market_claim<D: E2eDatabase>() {
    let (server, receiver) = start_prepared_with_webhook::<D>(
        async |db: &D| {
            db.add_user_column("market", UserColumnType::Text, Some(json!("kg")))
                .await
        },
        |s| s.user_claim_columns = UserClaimColumns::new(["market"]).unwrap(),
    )
    .await;
    let r = server
        .post_json("/v1/auth/otp/request", &json!({"phone": PHONE}))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = server
        .post_json(
            "/v1/auth/otp/verify",
            &json!({"phone": PHONE, "code": receiver.last_code()}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let pair = tokens(r).await;
    let claims = verified_claims(&server, &pair.access).await;
    assert_eq!(claims["market"], "kg");
    let user: i64 = claims["sub"].as_str().unwrap().parse().unwrap();

    server
        .db
        .set_user_column(UserId(user), "market", json!("us"))
        .await;
    let r = server.refresh(&pair.refresh).await;
    assert_eq!(r.status(), StatusCode::OK);
    let refreshed = tokens(r).await;
    let claims = verified_claims(&server, &refreshed.access).await;
    assert_eq!(
        (&claims["market"], &claims["sub"]),
        (&json!("us"), &json!(user.to_string()))
    );

    let password_user = server
        .register("market@example.com", "long enough password")
        .await;
    server
        .db
        .set_user_column(UserId(password_user), "market", json!("kz"))
        .await;
    let login = server
        .login("market@example.com", "long enough password")
        .await;
    assert_eq!(
        verified_claims(&server, &login.access).await["market"],
        "kz"
    );
    server.stop().await;
}
