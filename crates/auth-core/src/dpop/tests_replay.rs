//! End-to-end replay checks: one use per (key, jti), the bounded cache, and refused
//! proofs leaving their jti unused.

use serde_json::json;
use time::Duration;

use super::test_support::*;
use super::*;

#[test]
fn a_jti_is_used_once_per_key() {
    let (s, other, v) = (es256(), es256(), verifier());
    let c = claims();
    let proof = s.sign(&c);
    assert!(verify(&v, &proof).is_ok());
    assert!(matches!(verify(&v, &proof), Err(DpopError::Replayed)));
    // A new proof with the same jti, a second later: still a replay.
    let again = s.sign(&with(c.clone(), "iat", json!(NOW + 1)));
    assert!(matches!(verify(&v, &again), Err(DpopError::Replayed)));
    // Another jti, or the same jti from another key, is a new proof.
    assert!(verify(&v, &s.sign(&claims())).is_ok());
    assert!(verify(&v, &other.sign(&c)).is_ok());
}

#[test]
fn a_full_replay_cache_fails_closed_until_entries_expire() {
    let config = DpopConfig {
        replay_capacity: 2,
        ..DpopConfig::default()
    };
    let (s, v) = (es256(), DpopVerifier::new(config).unwrap());
    assert!(verify(&v, &s.sign(&claims())).is_ok());
    assert!(verify(&v, &s.sign(&claims())).is_ok());
    let third = s.sign(&claims());
    assert!(matches!(
        verify(&v, &third),
        Err(DpopError::ReplayCacheFull)
    ));
    // The window (60 s + 5 s) after the entries' iat they are forgotten.
    let later = now() + Duration::seconds(66);
    let fresh = s.sign(&with(claims(), "iat", json!(NOW + 66)));
    assert!(v.verify(&fresh, &request(), later).is_ok());
}

#[test]
fn a_refused_proof_does_not_use_up_its_jti() {
    let config = DpopConfig {
        nonce: Some(NonceConfig::new([3u8; 32], Duration::minutes(5)).unwrap()),
        ..DpopConfig::default()
    };
    let (s, v) = (es256(), DpopVerifier::new(config).unwrap());
    let c = claims();
    let token_req = DpopRequest {
        access_token: Some(TOKEN),
        ..request()
    };
    // Refused for the method, the access token hash and the nonce, in turn...
    let nonce = v.issue_nonce(now()).unwrap();
    let bad_htm = s.sign(&with(
        with(c.clone(), "htm", json!("GET")),
        "nonce",
        json!(nonce),
    ));
    assert!(matches!(
        verify(&v, &bad_htm),
        Err(DpopError::MethodMismatch)
    ));
    let bad_ath = s.sign(&with(
        with(c.clone(), "ath", json!("x")),
        "nonce",
        json!(nonce),
    ));
    assert!(matches!(
        v.verify(&bad_ath, &token_req, now()),
        Err(DpopError::AccessTokenHashMismatch)
    ));
    let no_nonce = s.sign(&c);
    assert!(matches!(
        verify(&v, &no_nonce),
        Err(DpopError::NonceRequired)
    ));
    // ...then accepted with the same jti.
    let good = s.sign(&with(c, "nonce", json!(nonce)));
    assert!(verify(&v, &good).is_ok());
    assert!(matches!(verify(&v, &good), Err(DpopError::Replayed)));
}

#[test]
fn one_proof_is_accepted_once_across_threads() {
    let (s, v) = (es256(), verifier());
    let proof = s.sign(&claims());
    let accepted = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| verify(&v, &proof).is_ok()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|ok| *ok)
            .count()
    });
    assert_eq!(accepted, 1);
}
