//! Just enough DER reading to size RSA keys before aws-lc (which refuses small ones
//! without saying why) and to unwrap PKCS#8.

fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;

/// The RSAPrivateKey inside a PKCS#8 PrivateKeyInfo.
pub(super) fn pkcs8_inner(der: &[u8]) -> Option<&[u8]> {
    let (SEQUENCE, body, _) = tlv(der)? else {
        return None;
    };
    let (INTEGER, _, rest) = tlv(body)? else {
        return None;
    };
    let (SEQUENCE, _, rest) = tlv(rest)? else {
        return None;
    };
    let (OCTET_STRING, inner, _) = tlv(rest)? else {
        return None;
    };
    Some(inner)
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn push_uint(out: &mut Vec<u8>, value: &[u8]) {
    let value = &value[value.iter().take_while(|b| **b == 0).count()..];
    let pad = value.first().is_some_and(|b| b & 0x80 != 0);
    out.push(INTEGER);
    push_len(out, value.len() + usize::from(pad));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(value);
}

/// A PKCS#1 RSAPublicKey from big-endian modulus and exponent.
pub(super) fn rsa_public_key(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(n.len() + e.len() + 16);
    push_uint(&mut body, n);
    push_uint(&mut body, e);
    let mut out = vec![SEQUENCE];
    push_len(&mut out, body.len());
    out.extend(body);
    out
}

/// Modulus size of a PKCS#1 RSAPrivateKey, PKCS#1 RSAPublicKey or the key inside
/// a SubjectPublicKeyInfo.
pub(super) fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    let (SEQUENCE, body, _) = tlv(der)? else {
        return None;
    };
    let (tag, first, rest) = tlv(body)?;
    let n = match tag {
        // RSAPrivateKey: version, n, ...; RSAPublicKey: n, e.
        INTEGER if first.len() <= 1 => tlv(rest).filter(|t| t.0 == INTEGER)?.1,
        INTEGER => first,
        // SubjectPublicKeyInfo: algorithm, BIT STRING { RSAPublicKey }.
        SEQUENCE => {
            let (0x03, bits, _) = tlv(rest)? else {
                return None;
            };
            return rsa_modulus_bits(bits.get(1..)?);
        }
        _ => return None,
    };
    Some(modulus_bits(n))
}

pub(super) fn modulus_bits(n: &[u8]) -> usize {
    let n = match n.iter().position(|b| *b != 0) {
        Some(i) => &n[i..],
        None => return 0,
    };
    n.len() * 8 - n[0].leading_zeros() as usize
}
