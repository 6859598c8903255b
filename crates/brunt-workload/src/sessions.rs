//! Sessions: the requests of one visitor (client address and user agent, the address alone, or
//! a logged field such as a session cookie) with no pause longer than the inactivity gap. Open
//! sessions live in a map until the log's clock passes their gap, so memory follows the number
//! of visitors active at once, not the log's length. Each closed session adds its length, its
//! think times and its route-to-route transitions (a Markov chain from `START` to `END`).

use hashbrown::HashMap;
use hdrhistogram::Histogram;
use std::hash::BuildHasher;

/// Chain states beside the routes' indices.
pub const START: u32 = u32::MAX;
pub const END: u32 = u32::MAX - 1;
/// Requests folded past the route limit.
pub const OTHER: u32 = u32::MAX - 2;

/// What tells one visitor from another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionKey {
    IpAgent,
    Ip,
    /// A JSON log's field (a cookie or header the log records).
    Field(String),
}

impl SessionKey {
    /// `ip+ua`, `ip` or `field:NAME`; the error names the flag.
    pub fn parse(s: &str) -> Result<SessionKey, String> {
        match s {
            "ip+ua" => Ok(SessionKey::IpAgent),
            "ip" => Ok(SessionKey::Ip),
            _ => match s.strip_prefix("field:") {
                Some(f) if !f.is_empty() => Ok(SessionKey::Field(f.to_string())),
                _ => Err(format!(
                    "--session-key '{s}': expected ip+ua, ip or field:NAME (a JSON log's field)"
                )),
            },
        }
    }

    pub fn describe(&self) -> String {
        match self {
            SessionKey::IpAgent => "ip+user-agent".into(),
            SessionKey::Ip => "ip".into(),
            SessionKey::Field(f) => format!("field:{f}"),
        }
    }
}

#[derive(Clone, Copy)]
struct Open {
    last_us: i64,
    state: u32,
    requests: u64,
}

pub struct Tracker {
    gap_us: i64,
    open: HashMap<u64, Open>,
    hasher: hashbrown::DefaultHashBuilder,
    next_sweep_us: i64,
    pub count: u64,
    pub lengths: Histogram<u64>,
    /// Milliseconds.
    pub think: Histogram<u64>,
    pub think_sum_ms: f64,
    pub transitions: HashMap<(u32, u32), u64>,
}

impl Tracker {
    pub fn new(gap_us: i64) -> Tracker {
        Tracker {
            gap_us,
            open: HashMap::new(),
            hasher: Default::default(),
            next_sweep_us: i64::MIN,
            count: 0,
            // Bounded, since `saturating_record` never resizes: a million requests, and think
            // times up to the gap (a longer pause starts a new session).
            lengths: Histogram::new_with_bounds(1, 1_000_000, 3).expect("valid bounds"),
            think: Histogram::new_with_bounds(1, (gap_us / 1000).max(2) as u64, 3)
                .expect("valid bounds"),
            think_sum_ms: 0.0,
            transitions: HashMap::new(),
        }
    }

    fn close(&mut self, s: &Open) {
        self.count += 1;
        self.lengths.saturating_record(s.requests);
        *self.transitions.entry((s.state, END)).or_default() += 1;
    }

    /// A request of visitor `who` for chain state `state` at `t_us`.
    pub fn push(&mut self, who: impl std::hash::Hash, state: u32, t_us: i64) {
        if t_us >= self.next_sweep_us {
            self.sweep(t_us);
        }
        let key = self.hasher.hash_one(who);
        let gap = self.gap_us;
        let mut ended = None;
        let from = match self.open.get_mut(&key) {
            Some(s) if t_us - s.last_us <= gap => {
                let think_ms = (t_us - s.last_us).max(0) as u64 / 1000;
                self.think.saturating_record(think_ms);
                self.think_sum_ms += think_ms as f64;
                let from = s.state;
                s.last_us = s.last_us.max(t_us);
                s.state = state;
                s.requests += 1;
                from
            }
            Some(s) => {
                ended = Some(*s);
                *s = Open {
                    last_us: t_us,
                    state,
                    requests: 1,
                };
                START
            }
            None => {
                self.open.insert(
                    key,
                    Open {
                        last_us: t_us,
                        state,
                        requests: 1,
                    },
                );
                START
            }
        };
        if let Some(s) = ended {
            self.close(&s);
        }
        *self.transitions.entry((from, state)).or_default() += 1;
    }

    /// Closes the sessions idle for longer than the gap at `now_us`.
    fn sweep(&mut self, now_us: i64) {
        let gap = self.gap_us;
        let mut closed = Vec::new();
        self.open.retain(|_, s| {
            let keep = now_us - s.last_us <= gap;
            if !keep {
                closed.push(*s);
            }
            keep
        });
        for s in &closed {
            self.close(s);
        }
        self.next_sweep_us = now_us.saturating_add(gap.max(1_000_000));
    }

    /// Closes every session still open (the log's end).
    pub fn finish(&mut self) {
        let open: Vec<Open> = self.open.drain().map(|(_, s)| s).collect();
        for s in &open {
            self.close(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_splits_sessions_and_the_chain_runs_start_to_end() {
        let mut t = Tracker::new(10_000_000);
        t.push("a", 0, 0);
        t.push("a", 1, 2_000_000);
        t.push("b", 0, 2_500_000);
        t.push("a", 0, 30_000_000); // 28s later: a new session
        t.finish();
        assert_eq!(t.count, 3);
        assert_eq!(t.transitions[&(START, 0)], 3);
        assert_eq!(t.transitions[&(0, 1)], 1);
        assert_eq!(t.transitions[&(1, END)], 1);
        assert_eq!(t.transitions[&(0, END)], 2);
        assert_eq!(t.think.len(), 1);
        assert_eq!(t.think_sum_ms, 2000.0);
    }
}
