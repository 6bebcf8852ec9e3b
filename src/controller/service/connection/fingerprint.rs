//! The fingerprint of the password last applied at the panel, kept in the connection Secret's
//! `hostplane.dev/password-applied` annotation: it tells whether the customer changed the
//! password without storing the password anywhere else.
//!
//! Why HMAC-SHA-256 keyed with the Secret's uid: the fingerprint must mean the same thing
//! forever. The first version used `DefaultHasher`, whose algorithm the standard library may
//! change in any release; after such a toolchain upgrade every fingerprint would differ and
//! every account would get a password change pushed. HMAC-SHA-256 is specified (RFC 2104,
//! FIPS 180-4), and keying it with the uid means an annotation copied to another Secret does
//! not vouch for that Secret's password, and equal passwords do not show as equal.
//!
//! Migration: a 16-hex-digit annotation is a fingerprint of the first version. It is checked
//! with that algorithm, pinned here (SipHash-1-3 with zero keys over the uid and the password,
//! each followed by `0xff`, exactly what `DefaultHasher` computed for `(&str, &str)`), so it
//! keeps its meaning whatever the toolchain does to `DefaultHasher`. A matching legacy
//! fingerprint counts as "unchanged" once; the next publish rewrites it in the new form.

use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// The fingerprint written now: HMAC-SHA-256 of the password keyed with the Secret's uid,
/// 64 lowercase hex digits.
pub fn fingerprint(password: &SecretString, key: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(password.expose_secret().as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// Whether `annotation` is the fingerprint of `password` in the Secret with uid `key`, in the
/// current or the legacy form. Anything else (another password, a hand-edited value) is a
/// change.
pub fn matches(annotation: &str, password: &SecretString, key: &str) -> bool {
    match annotation.len() {
        64 => annotation == fingerprint(password, key),
        16 => annotation == legacy(password, key),
        _ => false,
    }
}

/// The first version's fingerprint (see the module documentation), 16 hex digits.
fn legacy(password: &SecretString, salt: &str) -> String {
    let mut message = Vec::with_capacity(salt.len() + password.expose_secret().len() + 2);
    for part in [salt, password.expose_secret()] {
        message.extend_from_slice(part.as_bytes());
        // `Hash for str` ends every string with 0xff (no UTF-8 byte is 0xff).
        message.push(0xff);
    }
    format!("{:016x}", siphash13_zero_keys(&message))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SipHash-1-3 (one compression round, three finalization rounds) with both keys zero: what
/// `std::collections::hash_map::DefaultHasher::new()` has been since Rust 1.13.
fn siphash13_zero_keys(message: &[u8]) -> u64 {
    let mut v = [
        0x736f_6d65_7073_6575_u64,
        0x646f_7261_6e64_6f6d,
        0x6c79_6765_6e65_7261,
        0x7465_6462_7974_6573,
    ];
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }
    let chunks = message.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        let m = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        v[3] ^= m;
        round(&mut v);
        v[0] ^= m;
    }
    let mut last = (message.len() as u64 & 0xff) << 56;
    for (i, byte) in tail.iter().enumerate() {
        last |= u64::from(*byte) << (8 * i);
    }
    v[3] ^= last;
    round(&mut v);
    v[0] ^= last;
    v[2] ^= 0xff;
    for _ in 0..3 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> SecretString {
        SecretString::from(s)
    }

    /// Pinned: if this changes, every Secret's annotation would read as a password change.
    #[test]
    fn the_fingerprint_is_a_fixed_known_vector() {
        assert_eq!(
            fingerprint(&pw("S3cret-pass"), "0b6f2a4e-7d1c-4f3a-9e8b-5c2d1a0f9e87"),
            "b53bb5d77821d8d36e670585f432a09a73afdfc7d7cee8c497df83d0762fd2e2"
        );
    }

    /// RFC 4231 test case 2: the construction is standard HMAC-SHA-256.
    #[test]
    fn the_fingerprint_is_standard_hmac_sha256() {
        assert_eq!(
            fingerprint(&pw("what do ya want for nothing?"), "Jefe"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn fingerprints_depend_on_password_and_key_only() {
        let p = pw("S3cret-pass");
        assert_eq!(fingerprint(&p, "uid1"), fingerprint(&p, "uid1"));
        assert_ne!(fingerprint(&p, "uid1"), fingerprint(&p, "uid2"));
        assert_ne!(fingerprint(&p, "uid1"), fingerprint(&pw("other"), "uid1"));
        assert!(!fingerprint(&p, "uid1").contains("S3cret"));
        assert_eq!(fingerprint(&p, "uid1").len(), 64);
    }

    /// Pinned from what `DefaultHasher` wrote for `(uid, password)` before the change.
    #[test]
    fn legacy_fingerprints_are_recognised_once_whatever_the_toolchain() {
        let p = pw("S3cret-pass");
        let uid = "0b6f2a4e-7d1c-4f3a-9e8b-5c2d1a0f9e87";
        assert_eq!(legacy(&p, uid), "3a375555e8889fb0");
        assert!(matches("3a375555e8889fb0", &p, uid));
        assert!(!matches("3a375555e8889fb0", &pw("changed"), uid));
        assert!(!matches("3a375555e8889fb0", &p, "another-uid"));
        assert!(matches(&fingerprint(&p, uid), &p, uid));
        assert!(!matches("garbage", &p, uid));
    }
}
