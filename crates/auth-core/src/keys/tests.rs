//! Keyring tests: generation, weak keys, PEM, rotation, JWKS.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::DecodingKey;

use super::*;

fn spec(kid: &str, alg: SigningAlgorithm, material: KeyMaterial) -> KeyringSpec {
    KeyringSpec {
        active: kid.into(),
        keys: vec![KeySpec {
            kid: kid.into(),
            alg,
            material,
        }],
    }
}

fn hmac(len: usize) -> KeyMaterial {
    KeyMaterial::HmacSecretB64(STANDARD.encode(vec![7u8; len]))
}

#[test]
fn every_algorithm_generates_signs_and_verifies() {
    for alg in [
        SigningAlgorithm::HS256,
        SigningAlgorithm::HS384,
        SigningAlgorithm::HS512,
        SigningAlgorithm::EdDSA,
        SigningAlgorithm::ES256,
        SigningAlgorithm::RS256,
    ] {
        let ring = Keyring::generate("k", alg).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(ring.signing_key().alg, alg);
        assert_eq!(ring.active_kid(), "k");
    }
}

#[test]
fn weak_hmac_secrets_are_refused() {
    for (alg, min) in [
        (SigningAlgorithm::HS256, 32),
        (SigningAlgorithm::HS384, 48),
        (SigningAlgorithm::HS512, 64),
    ] {
        let err = Keyring::from_spec(&spec("k", alg, hmac(min - 1))).unwrap_err();
        assert!(
            matches!(err, KeyError::WeakHmacSecret { .. }),
            "{alg}: {err}"
        );
        assert!(Keyring::from_spec(&spec("k", alg, hmac(min))).is_ok());
    }
}

#[test]
fn rsa_under_2048_bits_is_refused() {
    let private =
        KeyMaterial::PrivatePem(include_str!("../../tests/fixtures/rsa1024-private.pem").into());
    let err = Keyring::from_spec(&spec("r", SigningAlgorithm::RS256, private)).unwrap_err();
    assert!(matches!(err, KeyError::WeakRsaKey { bits: 1024 }), "{err}");
    let public =
        KeyMaterial::PublicPem(include_str!("../../tests/fixtures/rsa1024-public.pem").into());
    let err = Keyring::from_spec(&spec("r", SigningAlgorithm::RS256, public)).unwrap_err();
    assert!(matches!(err, KeyError::WeakRsaKey { bits: 1024 }), "{err}");
    let ok =
        KeyMaterial::PrivatePem(include_str!("../../tests/fixtures/rsa2048-private.pem").into());
    assert!(Keyring::from_spec(&spec("r", SigningAlgorithm::RS256, ok)).is_ok());
}

#[test]
fn pem_keys_load_for_their_algorithm_only() {
    let ed = include_str!("../../tests/fixtures/ed25519-private.pem");
    let ec = include_str!("../../tests/fixtures/p256-private.pem");
    assert!(
        Keyring::from_spec(&spec(
            "e",
            SigningAlgorithm::EdDSA,
            KeyMaterial::PrivatePem(ed.into())
        ))
        .is_ok()
    );
    assert!(
        Keyring::from_spec(&spec(
            "e",
            SigningAlgorithm::ES256,
            KeyMaterial::PrivatePem(ec.into())
        ))
        .is_ok()
    );
    // A key is pinned: the Ed25519 key cannot be loaded as ES256 or RS256, nor as HMAC.
    for alg in [
        SigningAlgorithm::ES256,
        SigningAlgorithm::RS256,
        SigningAlgorithm::HS256,
    ] {
        let err =
            Keyring::from_spec(&spec("e", alg, KeyMaterial::PrivatePem(ed.into()))).unwrap_err();
        assert!(matches!(err, KeyError::InvalidKey { .. }), "{alg}: {err}");
    }
    let garbage = KeyMaterial::Pkcs8DerB64(STANDARD.encode(b"definitely not a key"));
    assert!(matches!(
        Keyring::from_spec(&spec("g", SigningAlgorithm::EdDSA, garbage)).unwrap_err(),
        KeyError::InvalidKey { .. }
    ));
}

#[test]
fn keyring_rules() {
    let mut s = KeyringSpec::generate("a", SigningAlgorithm::HS256).unwrap();
    s.keys.push(s.keys[0].clone());
    assert!(
        matches!(Keyring::from_spec(&s).unwrap_err(), KeyError::Keyring(_)),
        "duplicate kid"
    );
    let mut s = KeyringSpec::generate("a", SigningAlgorithm::HS256).unwrap();
    s.active = "missing".into();
    assert!(matches!(
        Keyring::from_spec(&s).unwrap_err(),
        KeyError::Keyring(_)
    ));
    let public_only = spec(
        "p",
        SigningAlgorithm::EdDSA,
        KeyMaterial::PublicPem(include_str!("../../tests/fixtures/ed25519-public.pem").into()),
    );
    assert!(
        matches!(
            Keyring::from_spec(&public_only).unwrap_err(),
            KeyError::Keyring(_)
        ),
        "active key must sign"
    );
    assert!(Keyring::from_json("{not json").is_err());
}

#[test]
fn verify_only_public_keys_verify_their_tokens() {
    let signer = Keyring::from_spec(&spec(
        "rsa",
        SigningAlgorithm::RS256,
        KeyMaterial::PrivatePem(include_str!("../../tests/fixtures/rsa2048-private.pem").into()),
    ))
    .unwrap();
    let mut verifier_spec = KeyringSpec::generate("current", SigningAlgorithm::EdDSA).unwrap();
    verifier_spec.keys.push(KeySpec {
        kid: "rsa".into(),
        alg: SigningAlgorithm::RS256,
        material: KeyMaterial::PublicPem(
            include_str!("../../tests/fixtures/rsa2048-public.pem").into(),
        ),
    });
    verifier_spec.keys.push(KeySpec {
        kid: "ed-old".into(),
        alg: SigningAlgorithm::EdDSA,
        material: KeyMaterial::PublicPem(
            include_str!("../../tests/fixtures/ed25519-public.pem").into(),
        ),
    });
    let verifier = Keyring::from_spec(&verifier_spec).unwrap();
    let message = b"header.payload";
    let signature = jsonwebtoken::crypto::sign(
        message,
        signer.signing_key().encoding.as_ref().unwrap(),
        jsonwebtoken::Algorithm::RS256,
    )
    .unwrap();
    assert!(verifier.key("rsa").unwrap().verify(message, &signature));
    assert!(
        !verifier
            .key("rsa")
            .unwrap()
            .verify(b"header.other", &signature)
    );
    assert!(!verifier.key("ed-old").unwrap().verify(message, &signature));
    assert_eq!(verifier.jwks()["keys"].as_array().unwrap().len(), 3);
}

#[test]
fn rotation_keeps_old_keys_verifying() {
    let old = KeyringSpec::generate("old", SigningAlgorithm::EdDSA).unwrap();
    let mut both = KeyringSpec::generate("new", SigningAlgorithm::ES256).unwrap();
    both.keys.extend(old.keys.clone());
    let ring = Keyring::from_spec(&both).unwrap();
    assert_eq!(ring.active_kid(), "new");
    assert!(ring.key("old").is_some());
    assert!(ring.key("new").is_some());
}

#[test]
fn jwks_lists_public_keys_only_and_they_verify() {
    let mut s = KeyringSpec::generate("ed", SigningAlgorithm::EdDSA).unwrap();
    for (kid, alg) in [
        ("ec", SigningAlgorithm::ES256),
        ("rs", SigningAlgorithm::RS256),
        ("hs", SigningAlgorithm::HS256),
    ] {
        s.keys.extend(KeyringSpec::generate(kid, alg).unwrap().keys);
    }
    let ring = Keyring::from_spec(&s).unwrap();
    let jwks = ring.jwks();
    let text = jwks.to_string();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3, "HMAC secrets are never published: {text}");
    assert!(!text.contains("\"d\""), "no private parts");
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    for kid in ["ed", "ec", "rs"] {
        let key = ring.key(kid).unwrap();
        let mut header = jsonwebtoken::Header::new(key.alg.jwt());
        header.kid = Some(kid.into());
        let claims = serde_json::json!({"sub": "1", "exp": 4_000_000_000u64});
        let token = jsonwebtoken::encode(&header, &claims, key.encoding.as_ref().unwrap()).unwrap();
        let jwk = set.find(kid).unwrap();
        let decoding = DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(key.alg.jwt());
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation)
            .unwrap_or_else(|e| panic!("{kid}: {e}"));
    }
}

#[test]
fn debug_output_hides_secrets() {
    let s = KeyringSpec::generate("a", SigningAlgorithm::HS256).unwrap();
    let KeyMaterial::HmacSecretB64(secret) = &s.keys[0].material else {
        panic!()
    };
    assert!(!format!("{s:?}").contains(secret.as_str()));
    let ring = Keyring::from_spec(&s).unwrap();
    assert!(!format!("{ring:?}").contains(secret.as_str()));
}
