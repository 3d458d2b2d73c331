//! Legacy password hashes, checked against vectors produced by each format's own library
//! (Django, werkzeug, passlib, bcrypt, argon2-cffi): see
//! `tests/fixtures/legacy-hashes/generate.py`, whose output `vectors.json` is committed.

use auth_core::{HashFamily, PasswordPolicy, UnusableHash, identify_password_hash};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    libraries: Vec<String>,
    vectors: Vec<Vector>,
    refused: Vec<Refused>,
}

#[derive(Deserialize)]
struct Vector {
    family: String,
    library: String,
    password: String,
    wrong_password: String,
    hash: String,
    note: String,
}

#[derive(Deserialize)]
struct Refused {
    hash: String,
    why: String,
}

fn vectors() -> Vectors {
    let text = include_str!("fixtures/legacy-hashes/vectors.json");
    serde_json::from_str(text).expect("vectors.json parses")
}

fn policy() -> PasswordPolicy {
    PasswordPolicy::default()
}

fn expected_family(family: &str) -> HashFamily {
    match family.split('-').next().unwrap() {
        "django" => HashFamily::Django,
        "werkzeug" => HashFamily::Werkzeug,
        "passlib" => HashFamily::Passlib,
        "bcrypt" => HashFamily::Bcrypt,
        "phc" => HashFamily::Phc,
        other => panic!("unknown family {other}"),
    }
}

#[test]
fn vectors_come_from_every_library() {
    let v = vectors();
    for lib in ["Django", "Werkzeug", "passlib", "bcrypt", "argon2-cffi"] {
        assert!(
            v.libraries.iter().any(|l| l.starts_with(lib)),
            "{lib} missing from {:?}",
            v.libraries
        );
    }
    for family in [
        "django-pbkdf2-sha256",
        "django-argon2",
        "werkzeug-pbkdf2",
        "werkzeug-scrypt",
        "passlib-pbkdf2",
        "bcrypt",
        "phc-argon2",
    ] {
        assert!(v.vectors.iter().any(|x| x.family == family), "{family}");
    }
    for prefix in [
        "$2a$",
        "$2b$",
        "$2y$",
        "pbkdf2_sha256$",
        "argon2$",
        "pbkdf2:sha256:",
    ] {
        assert!(
            v.vectors.iter().any(|x| x.hash.starts_with(prefix)),
            "{prefix}"
        );
    }
}

#[test]
fn every_vector_verifies_with_its_password_only() {
    let p = policy();
    for v in vectors().vectors {
        let label = format!("{} ({}, {}) {}", v.family, v.library, v.note, v.hash);
        assert_eq!(
            identify_password_hash(&v.hash),
            Ok(expected_family(&v.family)),
            "{label}"
        );
        assert_eq!(p.check(&v.password, &v.hash), Ok(true), "{label}");
        assert_eq!(p.check(&v.wrong_password, &v.hash), Ok(false), "{label}");
        assert!(!p.verify("", &v.hash), "{label}");
        let mut longer = v.password.clone();
        longer.push('x');
        assert!(!p.verify(&longer, &v.hash), "{label}");
        assert!(
            p.needs_rehash(&v.hash),
            "legacy hashes are rehashed: {label}"
        );
    }
}

#[test]
fn refused_hashes_are_errors_never_matches() {
    let p = policy();
    let v = vectors();
    assert!(v.refused.len() >= 20);
    let password = &v.vectors[0].password;
    for r in &v.refused {
        let err = p
            .check(password, &r.hash)
            .expect_err(&format!("{}: {:?}", r.why, r.hash));
        assert!(!err.to_string().is_empty());
        assert!(!p.verify(password, &r.hash), "{}", r.why);
        assert!(identify_password_hash(&r.hash).is_err(), "{}", r.why);
        assert!(p.needs_rehash(&r.hash));
    }
}

#[test]
fn errors_name_family_and_reason() {
    let unusable = identify_password_hash(&vectors().refused[0].hash).unwrap_err();
    assert_eq!(unusable, UnusableHash::Unrecognised, "Django's '!' marker");
    let md5 = identify_password_hash("md5$salt$00").unwrap_err();
    assert!(matches!(
        md5,
        UnusableHash::Unsupported {
            family: HashFamily::Django,
            ..
        }
    ));
    let big = identify_password_hash("pbkdf2_sha256$999999999$salt$aGFzaA==").unwrap_err();
    assert!(big.to_string().contains("out of bounds"), "{big}");
    assert!(big.to_string().contains("django"), "{big}");
}

/// Every truncation and single-character change of every cheap vector: no panic, and
/// the wrong password is never accepted.
#[test]
fn mutated_vectors_never_panic_or_accept_the_wrong_password() {
    let p = policy();
    for v in vectors().vectors.iter().filter(|v| v.note.is_empty()) {
        let bytes = v.hash.as_bytes();
        for cut in 0..bytes.len() {
            let truncated = String::from_utf8_lossy(&bytes[..cut]);
            assert!(!p.verify(&v.wrong_password, &truncated));
            assert!(!p.verify(&v.password, &truncated), "{truncated}");
        }
        for i in (0..bytes.len()).step_by(3) {
            for replacement in [b'$', b'0', b'.', b'z', 0xff] {
                let mut changed = bytes.to_vec();
                changed[i] = replacement;
                let changed = String::from_utf8_lossy(&changed);
                assert!(!p.verify(&v.wrong_password, &changed), "{changed}");
            }
        }
    }
}

#[test]
fn the_library_writes_pbkdf2_phc_and_keeps_it() {
    let p = PasswordPolicy {
        pbkdf2_rounds: 1_000,
        ..PasswordPolicy::default()
    };
    let phc = p.hash("a new password").unwrap();
    assert_eq!(identify_password_hash(&phc), Ok(HashFamily::Phc));
    assert!(!p.needs_rehash(&phc));
    assert!(PasswordPolicy::default().needs_rehash(&phc), "fewer rounds");
    assert_eq!(p.check("a new password", &phc), Ok(true));
}
