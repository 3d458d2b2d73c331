//! End-to-end proofs signed with freshly generated keys: acceptance, header, key and
//! signature refusals, malformed input, configuration.

use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use time::Duration;

use super::test_support::*;
use super::*;

#[test]
fn verifier_is_shareable() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<DpopVerifier>();
}

#[test]
fn valid_proofs_of_every_key_type_are_accepted_with_their_thumbprint() {
    let v = verifier();
    for signer in [es256(), ed25519(), rsa("RS256"), rsa("PS256")] {
        let c = claims();
        let verified =
            verify(&v, &signer.sign(&c)).unwrap_or_else(|e| panic!("{}: {e}", signer.alg));
        assert_eq!(verified.jkt, signer.jkt(), "{}", signer.alg);
        assert_eq!(verified.jti, c["jti"].as_str().unwrap());
        assert_eq!(verified.iat, now());
    }
}

#[test]
fn typ_must_be_dpop_jwt() {
    let s = es256();
    for typ in [
        json!("JWT"),
        json!("DPoP+JWT"),
        json!("application/dpop+jwt"),
        Value::Null,
    ] {
        let proof = s.sign_raw(&with(s.header(), "typ", typ.clone()), &claims());
        assert!(
            matches!(verify(&verifier(), &proof), Err(DpopError::WrongType)),
            "{typ}"
        );
    }
    let mut header = s.header();
    header.as_object_mut().unwrap().remove("typ");
    let proof = s.sign_raw(&header, &claims());
    assert!(matches!(
        verify(&verifier(), &proof),
        Err(DpopError::WrongType)
    ));
}

#[test]
fn alg_none_is_refused() {
    let s = es256();
    let header = with(s.header(), "alg", json!("none"));
    let unsigned = format!("{}.{}.", b64(header.to_string()), b64(claims().to_string()));
    assert!(matches!(
        verify(&verifier(), &unsigned),
        Err(DpopError::Malformed)
    ));
    let with_sig = format!("{unsigned}AAAA");
    assert!(matches!(
        verify(&verifier(), &with_sig),
        Err(DpopError::AlgorithmNotAllowed(a)) if a == "none"
    ));
}

#[test]
fn hs256_with_a_symmetric_jwk_is_refused() {
    let secret = [9u8; 32];
    let s = Signer {
        alg: "HS256",
        key: SignWith::Jwt(EncodingKey::from_secret(&secret)),
        jwk: json!({"kty": "oct", "k": b64(secret)}),
    };
    let proof = s.sign(&claims());
    assert!(matches!(
        verify(&verifier(), &proof),
        Err(DpopError::AlgorithmNotAllowed(a)) if a == "HS256"
    ));
    // Not even a configuration listing it.
    let config = DpopConfig {
        allowed_algorithms: vec![Algorithm::ES256, Algorithm::HS256],
        ..DpopConfig::default()
    };
    assert_eq!(
        DpopVerifier::new(config).unwrap_err(),
        DpopConfigError::SymmetricAlgorithm("HS256".into())
    );
}

#[test]
fn an_algorithm_outside_the_allowlist_is_refused() {
    let config = DpopConfig {
        allowed_algorithms: vec![Algorithm::ES256],
        ..DpopConfig::default()
    };
    let v = DpopVerifier::new(config).unwrap();
    assert!(verify(&v, &es256().sign(&claims())).is_ok());
    assert!(matches!(
        verify(&v, &ed25519().sign(&claims())),
        Err(DpopError::AlgorithmNotAllowed(a)) if a == "EdDSA"
    ));
}

#[test]
fn the_jwk_must_be_present_and_public() {
    let s = es256();
    let mut header = s.header();
    header.as_object_mut().unwrap().remove("jwk");
    let proof = s.sign_raw(&header, &claims());
    assert!(matches!(
        verify(&verifier(), &proof),
        Err(DpopError::MissingKey)
    ));

    // The signature is the key's own, but the header leaks a private member.
    let mut jwk = s.jwk.clone();
    jwk["d"] = json!(b64([1u8; 32]));
    let proof = s.sign_raw(&with(s.header(), "jwk", jwk), &claims());
    assert!(matches!(
        verify(&verifier(), &proof),
        Err(DpopError::PrivateKey)
    ));
}

#[test]
fn the_signature_must_be_by_the_jwk() {
    let (s, other) = (es256(), es256());
    let proof = other.sign_raw(&s.header(), &claims());
    assert!(matches!(
        verify(&verifier(), &proof),
        Err(DpopError::BadSignature)
    ));
    // An Ed25519 jwk under an ES256 header.
    let ed = ed25519();
    let proof = s.sign_raw(&with(s.header(), "jwk", ed.jwk.clone()), &claims());
    assert!(matches!(
        verify(&verifier(), &proof),
        Err(DpopError::KeyAlgorithmMismatch { .. })
    ));
    // Changed claims after signing.
    let proof = s.sign(&claims());
    let (message, sig) = proof.rsplit_once('.').unwrap();
    let (header, _) = message.split_once('.').unwrap();
    let forged = format!("{header}.{}.{sig}", b64(claims().to_string()));
    assert!(matches!(
        verify(&verifier(), &forged),
        Err(DpopError::BadSignature)
    ));
}

#[test]
fn oversized_proofs_are_refused_before_parsing() {
    let s = es256();
    let padding = "x".repeat(MAX_PROOF_BYTES);
    let big = s.sign(&with(claims(), "pad", json!(padding)));
    assert!(big.len() > MAX_PROOF_BYTES);
    assert!(matches!(
        verify(&verifier(), &big),
        Err(DpopError::TooLarge {
            max: MAX_PROOF_BYTES
        })
    ));
    let junk = "a".repeat(MAX_PROOF_BYTES + 1);
    assert!(matches!(
        verify(&verifier(), &junk),
        Err(DpopError::TooLarge { .. })
    ));
}

#[test]
fn mutated_and_garbage_proofs_are_refused_without_panicking() {
    let s = es256();
    let v = verifier();
    let proof = s.sign(&claims());
    let mut refused = 0;
    for (i, _) in proof.char_indices() {
        for replacement in ["A", "_", ".", "", "é", "\0", "AA"] {
            let mutated = format!("{}{replacement}{}", &proof[..i], &proof[i + 1..]);
            if mutated == proof {
                continue;
            }
            assert!(verify(&v, &mutated).is_err(), "mutation at {i}: {mutated}");
            refused += 1;
        }
        assert!(verify(&v, &proof[..i]).is_err(), "truncated at {i}");
    }
    assert!(refused > proof.len() * 5);
    // Pseudo-random bytes, some looking like three parts.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for round in 0..500 {
        let len = (round * 7) % 300;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b"eyJ0.AZaz09-_{}\"\xff"[(x % 16) as usize]
            })
            .collect();
        let text = String::from_utf8_lossy(&bytes);
        assert!(verify(&v, &text).is_err(), "{text}");
    }
    // The untouched proof still verifies: no mutation used up its jti.
    assert!(verify(&v, &proof).is_ok());
}

#[test]
fn config_validation() {
    assert!(DpopConfig::default().validate().is_ok());
    let cases = [
        (
            DpopConfig {
                allowed_algorithms: vec![],
                ..DpopConfig::default()
            },
            DpopConfigError::NoAlgorithms,
        ),
        (
            DpopConfig {
                allowed_algorithms: vec![Algorithm::HS512],
                ..DpopConfig::default()
            },
            DpopConfigError::SymmetricAlgorithm("HS512".into()),
        ),
        (
            DpopConfig {
                max_age: Duration::seconds(-1),
                ..DpopConfig::default()
            },
            DpopConfigError::NegativeDuration("max_age"),
        ),
        (
            DpopConfig {
                max_clock_skew: Duration::seconds(-1),
                ..DpopConfig::default()
            },
            DpopConfigError::NegativeDuration("max_clock_skew"),
        ),
        (
            DpopConfig {
                replay_capacity: 0,
                ..DpopConfig::default()
            },
            DpopConfigError::ZeroReplayCapacity,
        ),
    ];
    for (config, want) in cases {
        assert_eq!(config.validate().unwrap_err(), want);
        assert_eq!(DpopVerifier::new(config).unwrap_err(), want);
    }
}
