//! The order of the rates tried: a 1-2-5 ladder up from the start rate until a step fails, then
//! bisection between the last passing and the first failing rate.

/// Where the search stands; pure, so the order is tested without load.
#[derive(Debug, Clone)]
pub(crate) struct Search {
    ladder: Vec<u64>,
    /// The highest rate that passed (the baseline's to begin with).
    pass: u64,
    /// The lowest rate that failed.
    fail: Option<u64>,
    resolution: f64,
}

impl Search {
    pub(crate) fn new(baseline: u64, start: u64, max: u64, resolution: f64) -> Search {
        let mut ladder = vec![start];
        let mut decade = 1u64;
        'up: loop {
            for m in [1, 2, 5] {
                let Some(r) = decade.checked_mul(m) else {
                    break 'up;
                };
                if r > max {
                    break 'up;
                }
                if r > start {
                    ladder.push(r);
                }
            }
            match decade.checked_mul(10) {
                Some(d) => decade = d,
                None => break,
            }
        }
        if ladder.last() != Some(&max) {
            ladder.push(max);
        }
        Search {
            ladder,
            pass: baseline,
            fail: None,
            resolution,
        }
    }

    /// The next rate to try, or None when the search is done.
    pub(crate) fn next(&self) -> Option<u64> {
        match self.fail {
            None => self.ladder.iter().copied().find(|&r| r > self.pass),
            Some(fail) => {
                let close = (fail - self.pass) as f64 <= self.pass as f64 * self.resolution;
                let mid = self.pass + (fail - self.pass) / 2;
                (!close && mid > self.pass).then_some(mid)
            }
        }
    }

    pub(crate) fn record(&mut self, rate: u64, passed: bool) {
        if passed {
            self.pass = self.pass.max(rate);
        } else {
            self.fail = Some(self.fail.map_or(rate, |f| f.min(rate)));
        }
    }

    /// The highest rate that passed and the lowest that failed (None when none did).
    pub(crate) fn bounds(&self) -> (u64, Option<u64>) {
        (self.pass, self.fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the search against a target that passes every rate up to `limit`.
    fn tried(s: &mut Search, limit: u64) -> Vec<u64> {
        let mut out = Vec::new();
        while let Some(r) = s.next() {
            out.push(r);
            s.record(r, r <= limit);
        }
        out
    }

    #[test]
    fn climbs_the_1_2_5_ladder_then_bisects_to_the_resolution() {
        let mut s = Search::new(5, 10, 100_000, 0.05);
        assert_eq!(
            tried(&mut s, 230),
            [10, 20, 50, 100, 200, 500, 350, 275, 237, 218, 227]
        );
        assert_eq!(s.bounds(), (227, Some(237)));
    }

    #[test]
    fn a_start_off_the_ladder_and_a_max_are_steps_too() {
        let mut s = Search::new(5, 30, 300, 0.05);
        assert_eq!(tried(&mut s, 1000), [30, 50, 100, 200, 300]);
        assert_eq!(s.bounds(), (300, None));
    }

    #[test]
    fn a_first_step_that_fails_bisects_down_to_the_baseline() {
        let mut s = Search::new(5, 10, 1000, 0.1);
        assert_eq!(tried(&mut s, 6), [10, 7, 6]);
        assert_eq!(s.bounds(), (6, Some(7)));
    }
}
