//! The C2SP Wycheproof vectors run through the keyring's own verification path
//! (`Key::load` from a key-file entry, then `Key::verify`, exactly what access-token
//! verification calls): every `invalid` vector refused, every `valid` one accepted,
//! and what happens to the `acceptable` ones printed (ARCHITECTURE.md, "Keys").
//!
//! HMAC vectors outside what an `HS*` key allows are counted apart, never silently
//! dropped: keys shorter than the hash are refused when the key file is loaded (a
//! `valid` vector then counts as "key refused at load"), and truncated tags (`tagSize`
//! below the hash size) are never accepted, as JWS HMAC tags are full length.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use wycheproof::TestResult;

use super::{Key, KeyMaterial, KeySpec, SigningAlgorithm};

#[derive(Debug, Default)]
struct Tally {
    valid_accepted: usize,
    invalid_refused: usize,
    acceptable_accepted: usize,
    acceptable_refused: usize,
    key_refused_at_load: usize,
    truncated_tag_refused: usize,
}

impl Tally {
    fn record(&mut self, alg: &str, tc_id: usize, result: TestResult, accepted: bool) {
        match result {
            TestResult::Valid => {
                assert!(accepted, "{alg} vector {tc_id}: valid signature refused");
                self.valid_accepted += 1;
            }
            TestResult::Invalid => {
                assert!(
                    !accepted,
                    "{alg} vector {tc_id}: invalid signature accepted"
                );
                self.invalid_refused += 1;
            }
            TestResult::Acceptable => {
                if accepted {
                    self.acceptable_accepted += 1;
                } else {
                    self.acceptable_refused += 1;
                }
            }
        }
    }

    fn total(&self) -> usize {
        self.valid_accepted
            + self.invalid_refused
            + self.acceptable_accepted
            + self.acceptable_refused
            + self.key_refused_at_load
            + self.truncated_tag_refused
    }

    fn report(&self, alg: &str, expected: usize) {
        println!("WYCHEPROOF {alg}: {} vectors: {self:?}", self.total());
        assert_eq!(
            self.total(),
            expected,
            "{alg}: every vector of the set was run"
        );
        assert!(self.valid_accepted > 0 && self.invalid_refused > 0);
    }
}

fn key(alg: SigningAlgorithm, material: KeyMaterial) -> Result<Key, super::KeyError> {
    Key::load(&KeySpec {
        kid: "wycheproof".into(),
        alg,
        material,
    })
}

fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hmac(name: wycheproof::mac::TestName, alg: SigningAlgorithm, hash_bits: usize) {
    let set = wycheproof::mac::TestSet::load(name).expect("vectors");
    let mut tally = Tally::default();
    for group in &set.test_groups {
        for test in &group.tests {
            let loaded = key(alg, KeyMaterial::HmacSecretB64(STANDARD.encode(&*test.key)));
            let Ok(loaded) = loaded else {
                assert!(
                    test.key.len() * 8 < hash_bits,
                    "{alg} {}: key refused",
                    test.tc_id
                );
                tally.key_refused_at_load += 1;
                continue;
            };
            let accepted = loaded.verify(&test.msg, &b64url(&test.tag));
            if group.tag_size < hash_bits {
                assert!(!accepted, "{alg} {}: truncated tag accepted", test.tc_id);
                tally.truncated_tag_refused += 1;
                continue;
            }
            tally.record(alg.as_str(), test.tc_id, test.result, accepted);
        }
    }
    tally.report(alg.as_str(), set.number_of_tests);
}

#[test]
fn wycheproof_hmac_sha256() {
    hmac(
        wycheproof::mac::TestName::HmacSha256,
        SigningAlgorithm::HS256,
        256,
    );
}

#[test]
fn wycheproof_hmac_sha384() {
    hmac(
        wycheproof::mac::TestName::HmacSha384,
        SigningAlgorithm::HS384,
        384,
    );
}

#[test]
fn wycheproof_hmac_sha512() {
    hmac(
        wycheproof::mac::TestName::HmacSha512,
        SigningAlgorithm::HS512,
        512,
    );
}

/// Public-key sets: one key per group, from its PEM, as a key file would carry it.
fn public_key_vectors<'a>(
    alg: SigningAlgorithm,
    expected: usize,
    groups: impl Iterator<Item = (&'a str, Vec<(usize, &'a [u8], &'a [u8], TestResult)>)>,
) {
    let mut tally = Tally::default();
    for (pem, tests) in groups {
        match key(alg, KeyMaterial::PublicPem(pem.to_owned())) {
            Ok(loaded) => {
                for (tc_id, msg, sig, result) in tests {
                    let accepted = loaded.verify(msg, &b64url(sig));
                    tally.record(alg.as_str(), tc_id, result, accepted);
                }
            }
            Err(e) => {
                for (tc_id, _, _, result) in tests {
                    assert_ne!(result, TestResult::Valid, "{alg} {tc_id}: key refused: {e}");
                    tally.key_refused_at_load += 1;
                }
            }
        }
    }
    tally.report(alg.as_str(), expected);
}

#[test]
fn wycheproof_ecdsa_p256_sha256_p1363() {
    let set =
        wycheproof::ecdsa::TestSet::load(wycheproof::ecdsa::TestName::EcdsaSecp256r1Sha256P1363)
            .expect("vectors");
    public_key_vectors(
        SigningAlgorithm::ES256,
        set.number_of_tests,
        set.test_groups.iter().map(|g| {
            let tests = g
                .tests
                .iter()
                .map(|t| (t.tc_id, &t.msg[..], &t.sig[..], t.result))
                .collect();
            (g.pem.as_str(), tests)
        }),
    );
}

#[test]
fn wycheproof_ed25519() {
    let set =
        wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).expect("vectors");
    public_key_vectors(
        SigningAlgorithm::EdDSA,
        set.number_of_tests,
        set.test_groups.iter().map(|g| {
            let tests = g
                .tests
                .iter()
                .map(|t| (t.tc_id, &t.msg[..], &t.sig[..], t.result))
                .collect();
            (g.pem.as_str(), tests)
        }),
    );
}

#[test]
fn wycheproof_rsa_pkcs1v15_2048_sha256() {
    let set = wycheproof::rsa_pkcs1_verify::TestSet::load(
        wycheproof::rsa_pkcs1_verify::TestName::Rsa2048Sha256,
    )
    .expect("vectors");
    public_key_vectors(
        SigningAlgorithm::RS256,
        set.number_of_tests,
        set.test_groups.iter().map(|g| {
            let tests = g
                .tests
                .iter()
                .map(|t| (t.tc_id, &t.msg[..], &t.sig[..], t.result))
                .collect();
            (g.pem.as_str(), tests)
        }),
    );
}
