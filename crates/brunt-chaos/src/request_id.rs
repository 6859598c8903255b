//! `X-Toxiproxy-Request-Id`: Toxiproxy tags every API response with a fresh id
//! (zerolog's request-id middleware, an `xid`), and its clients' tests expect it.
//!
//! Same shape as an xid, so log tooling that parses them keeps working: 12 bytes
//! (Unix seconds, 3 bytes naming this process's host, 2 of process id, a 3-byte
//! counter) written as 20 characters of lower-case base32hex. The host bytes are
//! drawn at random once per process rather than hashed from the host name: they
//! only have to keep ids from different processes apart.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;

/// The response header carrying the id.
pub(crate) const HEADER: &str = "x-toxiproxy-request-id";

struct Source {
    host: [u8; 3],
    counter: AtomicU32,
}

fn source() -> &'static Source {
    static SOURCE: OnceLock<Source> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let mut rng = rand::rng();
        Source {
            host: rng.random(),
            counter: AtomicU32::new(rng.random()),
        }
    })
}

/// A new id, unique within this process and ordered by time.
pub(crate) fn next() -> String {
    let src = source();
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32);
    let count = src.counter.fetch_add(1, Ordering::Relaxed);
    let mut raw = [0u8; 12];
    raw[..4].copy_from_slice(&secs.to_be_bytes());
    raw[4..7].copy_from_slice(&src.host);
    raw[7..9].copy_from_slice(&(std::process::id() as u16).to_be_bytes());
    raw[9..].copy_from_slice(&count.to_be_bytes()[1..]);
    base32hex(&raw)
}

/// Lower-case base32hex without padding.
fn base32hex(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_xids_and_differ() {
        // An xid's published example: its 12 bytes and their 20-character form.
        let raw = [
            0x4d, 0x88, 0xe1, 0x5b, 0x60, 0xf4, 0x86, 0xe4, 0x28, 0x41, 0x2d, 0xc9,
        ];
        assert_eq!(base32hex(&raw), "9m4e2mr0ui3e8a215n4g");
        let (a, b) = (next(), next());
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert!(a
            .bytes()
            .all(|c| b"0123456789abcdefghijklmnopqrstuv".contains(&c)));
    }
}
