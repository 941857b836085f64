//! Tokens and passwords: the randomness and hashing the rest of the server relies on.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};

/// Bytes of randomness in a ticket or session token: 192 bits, far past guessing.
pub const TOKEN_BYTES: usize = 24;

/// Shortest password a staff account may have.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Bytes from the operating system's random source, fetched 4 KiB at a time per thread: a
/// join burst made one `getrandom` system call per ticket (with the token's formatting,
/// about 1.5 % of the server's time).
/// The bytes are the source's own, each handed out once.
fn random_bytes<const N: usize>() -> [u8; N] {
    const POOL: usize = 4096;
    struct Pool {
        bytes: Box<[u8; POOL]>,
        used: usize,
    }
    thread_local! {
        static POOL_BYTES: std::cell::RefCell<Pool> = std::cell::RefCell::new(Pool {
            bytes: Box::new([0; POOL]),
            used: POOL,
        });
    }
    let mut buf = [0u8; N];
    if N > POOL {
        getrandom::fill(&mut buf).expect("the operating system's random source failed");
        return buf;
    }
    POOL_BYTES.with_borrow_mut(|pool| {
        if POOL - pool.used < N {
            getrandom::fill(&mut pool.bytes[..])
                .expect("the operating system's random source failed");
            pool.used = 0;
        }
        let taken = &mut pool.bytes[pool.used..pool.used + N];
        buf.copy_from_slice(taken);
        // Handed out once: a copy left behind would be a copy of someone's token.
        taken.fill(0);
        pool.used += N;
    });
    buf
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// An unguessable URL-safe token (48 hex characters).
pub fn random_token() -> String {
    hex(&random_bytes::<TOKEN_BYTES>())
}

/// A ticket's token: the time it was made, `now_ms` in 12 hex digits, then a
/// [`random_token`] (60 hex characters).
///
/// Tokens made together sort together, so a burst of joins adds to the end of storage's
/// token index. Fully random tokens made every join write a different index page: ~100 of
/// the ~130 pages SQLite wrote for a batch of 100 joins. The random part is what makes the
/// token unguessable; the time shows its holder only when they joined.
pub fn ticket_token(now_ms: i64) -> String {
    let mut token = format!("{:012x}", now_ms.clamp(0, 0xffff_ffff_ffff));
    token.push_str(&random_token());
    token
}

/// A short random name (2×`bytes` hex characters): instance names, log epochs.
pub fn random_hex(bytes: usize) -> String {
    hex(&random_bytes::<32>()[..bytes.min(32)])
}

/// `N` random characters from `alphabet` (at most 256 symbols; a power of two keeps them
/// uniform).
pub fn random_chars<const N: usize>(alphabet: &[u8]) -> String {
    random_bytes::<N>()
        .iter()
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect()
}

/// A readable generated password: 16 characters without look-alikes (0/O, 1/l).
pub fn random_password() -> String {
    random_chars::<16>(b"abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789")
}

/// Sessions are stored by this hash, so a leaked database holds no usable token.
pub fn sha256_hex(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

fn argon2() -> Argon2<'static> {
    // OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane.
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters"),
    )
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt =
        SaltString::encode_b64(&random_bytes::<16>()).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))?
        .to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

pub fn check_password_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "passwords need at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_distinct() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), TOKEN_BYTES * 2);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }

    #[test]
    fn pooled_random_bytes_never_repeat_across_refills() {
        // 1,000 tokens and 1,000 seven-byte draws take 31,000 bytes: seven refills of the
        // 4 KiB pool, with sizes that do not divide it.
        let mut seen = std::collections::HashSet::new();
        for i in 0..1000 {
            assert!(seen.insert(random_token()), "token {i} repeated");
            let odd = random_bytes::<7>();
            assert_ne!(odd, [0; 7], "handed out a used (zeroed) part of the pool");
        }
    }

    #[test]
    fn ticket_tokens_sort_by_time_and_stay_random() {
        let (early, late) = (
            ticket_token(1_700_000_000_000),
            ticket_token(1_700_000_000_001),
        );
        assert_eq!(early.len(), 12 + TOKEN_BYTES * 2);
        assert!(early < late);
        assert_eq!(&early[..12], "018bcfe56800");
        let (a, b) = (ticket_token(5), ticket_token(5));
        assert_eq!(a[..12], b[..12]);
        assert_ne!(a[12..], b[12..]);
    }

    #[test]
    fn a_password_verifies_only_against_its_own_hash() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong horse battery", &h));
        assert!(!verify_password("x", "not a hash"));
    }
}
