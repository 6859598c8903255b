//! Reproducible randomness: every random choice (toxicity rolls, jitter, slice
//! sizes, losses) comes from a generator seeded by the server seed, the proxy
//! name, the connection's sequence number on that proxy and the toxic's name.
//! The same `--seed` and the same order of connections give the same faults.

use rand::rngs::SmallRng;
use rand::SeedableRng;

/// A generator for one (proxy, connection, toxic) triple.
pub(crate) fn rng_for(seed: u64, proxy: &str, connection: u64, toxic: &str) -> SmallRng {
    let mut h = fnv1a(0xcbf2_9ce4_8422_2325, proxy.as_bytes());
    h = fnv1a(h ^ 0xff, toxic.as_bytes());
    SmallRng::seed_from_u64(splitmix(seed ^ splitmix(h ^ splitmix(connection))))
}

/// A fresh seed when none was given.
pub(crate) fn random_seed() -> u64 {
    rand::random()
}

fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn same_inputs_same_sequence_different_inputs_differ() {
        let a: Vec<u32> = (0..4)
            .map(|_| 0)
            .scan(rng_for(7, "db", 3, "latency_downstream"), |r, _: u32| {
                Some(r.random())
            })
            .collect();
        let b: Vec<u32> = (0..4)
            .map(|_| 0)
            .scan(rng_for(7, "db", 3, "latency_downstream"), |r, _: u32| {
                Some(r.random())
            })
            .collect();
        let c: Vec<u32> = (0..4)
            .map(|_| 0)
            .scan(rng_for(7, "db", 4, "latency_downstream"), |r, _: u32| {
                Some(r.random())
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
