//! End-to-end claim checks: htm, htu, iat, ath and nonce.

use serde_json::json;
use time::Duration;

use super::test_support::*;
use super::*;

#[test]
fn htm_must_equal_the_method_case_sensitively() {
    let s = es256();
    for htm in ["GET", "post"] {
        let proof = s.sign(&with(claims(), "htm", json!(htm)));
        assert!(
            matches!(verify(&verifier(), &proof), Err(DpopError::MethodMismatch)),
            "{htm}"
        );
    }
}

#[test]
fn htu_must_match_the_url_without_query_and_fragment() {
    let (s, v) = (es256(), verifier());
    let other_path = s.sign(&with(
        claims(),
        "htu",
        json!("https://server.example.com/other"),
    ));
    assert!(matches!(
        verify(&v, &other_path),
        Err(DpopError::UrlMismatch)
    ));
    let other_host = s.sign(&with(
        claims(),
        "htu",
        json!("https://evil.example.com/token"),
    ));
    assert!(matches!(
        verify(&v, &other_host),
        Err(DpopError::UrlMismatch)
    ));
    for url in [
        "https://server.example.com/token?code=abc",
        "https://Server.EXAMPLE.com:443/token#x",
    ] {
        let req = DpopRequest { url, ..request() };
        assert!(v.verify(&s.sign(&claims()), &req, now()).is_ok(), "{url}");
    }
    let normalized_htu = s.sign(&with(
        claims(),
        "htu",
        json!("HTTPS://server.example.com:443/token"),
    ));
    assert!(verify(&v, &normalized_htu).is_ok());
    let not_a_url = s.sign(&with(claims(), "htu", json!("/token")));
    assert!(matches!(
        verify(&v, &not_a_url),
        Err(DpopError::InvalidClaim("htu"))
    ));
}

#[test]
fn iat_must_be_within_the_window() {
    let (s, v) = (es256(), verifier());
    for (iat, ok) in [
        (NOW - 61, false),
        (NOW - 60, true),
        (NOW + 5, true),
        (NOW + 6, false),
    ] {
        let result = verify(&v, &s.sign(&with(claims(), "iat", json!(iat))));
        match ok {
            true => assert!(result.is_ok(), "{iat}: {result:?}"),
            false => assert!(matches!(result, Err(DpopError::IssuedOutOfWindow)), "{iat}"),
        }
    }
    let ancient = s.sign(&with(claims(), "iat", json!(i64::MIN)));
    assert!(matches!(
        verify(&v, &ancient),
        Err(DpopError::IssuedOutOfWindow)
    ));
}

#[test]
fn ath_is_checked_when_an_access_token_is_sent() {
    let (s, v) = (es256(), verifier());
    let req = DpopRequest {
        access_token: Some(TOKEN),
        ..request()
    };
    let right = s.sign(&with(claims(), "ath", json!(access_token_hash(TOKEN))));
    assert!(v.verify(&right, &req, now()).is_ok());
    let wrong = s.sign(&with(claims(), "ath", json!(access_token_hash("other"))));
    assert!(matches!(
        v.verify(&wrong, &req, now()),
        Err(DpopError::AccessTokenHashMismatch)
    ));
    let not_a_string = s.sign(&with(claims(), "ath", json!(1)));
    assert!(matches!(
        v.verify(&not_a_string, &req, now()),
        Err(DpopError::AccessTokenHashMismatch)
    ));
    let missing = s.sign(&claims());
    assert!(matches!(
        v.verify(&missing, &req, now()),
        Err(DpopError::MissingAccessTokenHash)
    ));
    // Without an access token (a token request), ath is ignored.
    assert!(verify(&v, &wrong).is_ok());
}

#[test]
fn nonces_when_configured() {
    assert_eq!(verifier().issue_nonce(now()), None);
    let config = DpopConfig {
        nonce: Some(NonceConfig::new([5u8; 32], Duration::seconds(120)).unwrap()),
        ..DpopConfig::default()
    };
    let (s, v) = (es256(), DpopVerifier::new(config).unwrap());
    let nonce = v.issue_nonce(now()).unwrap();

    let err = verify(&v, &s.sign(&claims())).unwrap_err();
    assert!(matches!(err, DpopError::NonceRequired));
    assert_eq!(err.error_code(), "use_dpop_nonce");

    let foreign = DpopVerifier::new(DpopConfig {
        nonce: Some(NonceConfig::new([6u8; 32], Duration::seconds(120)).unwrap()),
        ..DpopConfig::default()
    })
    .unwrap()
    .issue_nonce(now())
    .unwrap();
    for bad in [json!(foreign), json!("nonsense"), json!(7)] {
        let err = verify(&v, &s.sign(&with(claims(), "nonce", bad.clone()))).unwrap_err();
        assert!(matches!(err, DpopError::NonceInvalid), "{bad}");
        assert_eq!(err.error_code(), "use_dpop_nonce");
    }

    // Expired: the proof is fresh, the nonce is not.
    let later = now() + Duration::seconds(120);
    let expired = s.sign(&with(
        with(claims(), "nonce", json!(nonce)),
        "iat",
        json!(NOW + 120),
    ));
    assert!(matches!(
        v.verify(&expired, &request(), later),
        Err(DpopError::NonceInvalid)
    ));

    let valid = s.sign(&with(claims(), "nonce", json!(nonce)));
    assert!(verify(&v, &valid).is_ok());
}
