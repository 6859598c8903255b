//! Execution segments, as k6's `lib/execution_segment.go` defines them: an instance runs the part
//! `(from, to]` of the whole test, and a sequence of segments covering `0:1` stripes VUs,
//! iterations and arrival-rate ticks between instances so that together they do exactly the work
//! of one instance.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

/// Bad `executionSegment` / `executionSegmentSequence` values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    #[error("'{0}' is not a valid percentage, decimal, fraction or interval value")]
    BadNumber(String),
    #[error("segment start value must be at least 0 but was {0}")]
    NegativeStart(Rat),
    #[error("segment start ({0}) must be less than its end ({1})")]
    StartNotBeforeEnd(Rat, Rat),
    #[error("segment end value can't be more than 1 but was {0}")]
    EndAboveOne(Rat),
    #[error("at least 2 points are needed for an execution segment sequence, {0} given")]
    TooFewPoints(usize),
    #[error("couldn't find segment {0} in sequence {1}")]
    NotInSequence(ExecutionSegment, String),
}

/// A small exact rational (always reduced, positive denominator); segment bounds need no more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rat {
    num: i64,
    den: i64,
}

fn gcd(mut a: i64, mut b: i64) -> i64 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

impl Rat {
    pub const ZERO: Rat = Rat { num: 0, den: 1 };
    pub const ONE: Rat = Rat { num: 1, den: 1 };

    /// `num/den` reduced; `den` must not be 0.
    pub fn new(num: i64, den: i64) -> Rat {
        let g = gcd(num, den);
        let s = if den < 0 { -1 } else { 1 };
        Rat {
            num: s * num / g,
            den: s * den / g,
        }
    }

    pub fn numer(self) -> i64 {
        self.num
    }

    pub fn denom(self) -> i64 {
        self.den
    }

    fn sub(self, o: Rat) -> Rat {
        let n = i128::from(self.num) * i128::from(o.den) - i128::from(o.num) * i128::from(self.den);
        let d = i128::from(self.den) * i128::from(o.den);
        reduce128(n, d)
    }

    pub fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// Parses `25%`, `0.25` or `1/4`, as k6's `stringToRat` does.
    pub fn parse(s: &str) -> Result<Rat, SegmentError> {
        let bad = || SegmentError::BadNumber(s.to_string());
        let t = s.trim();
        if let Some(p) = t.strip_suffix('%') {
            let n: i64 = p.trim().parse().map_err(|_| bad())?;
            return Ok(Rat::new(n, 100));
        }
        if let Some((n, d)) = t.split_once('/') {
            let n: i64 = n.trim().parse().map_err(|_| bad())?;
            let d: i64 = d.trim().parse().map_err(|_| bad())?;
            if d == 0 {
                return Err(bad());
            }
            return Ok(Rat::new(n, d));
        }
        let (neg, body) = match t.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, t),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
            || frac.len() > 15
        {
            return Err(bad());
        }
        let den = 10i64.pow(frac.len() as u32);
        let int: i64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| bad())?
        };
        let frac: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| bad())?
        };
        let n = int
            .checked_mul(den)
            .and_then(|v| v.checked_add(frac))
            .ok_or_else(bad)?;
        Ok(Rat::new(if neg { -n } else { n }, den))
    }
}

fn reduce128(n: i128, d: i128) -> Rat {
    let (mut a, mut b) = (n.abs(), d.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    let g = a.max(1);
    let s = if d < 0 { -1 } else { 1 };
    Rat {
        num: (s * n / g) as i64,
        den: (s * d / g) as i64,
    }
}

impl PartialOrd for Rat {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Rat {
    fn cmp(&self, o: &Self) -> Ordering {
        (i128::from(self.num) * i128::from(o.den)).cmp(&(i128::from(o.num) * i128::from(self.den)))
    }
}

impl fmt::Display for Rat {
    /// Like Go's `big.Rat.RatString`: `1/4`, or `1` for integers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

/// The part `(from, to]` of the whole test that this instance runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExecutionSegment {
    from: Rat,
    to: Rat,
}

impl ExecutionSegment {
    /// The whole test, `0:1`.
    pub const FULL: ExecutionSegment = ExecutionSegment {
        from: Rat::ZERO,
        to: Rat::ONE,
    };

    /// Checks `0 <= from < to <= 1`.
    pub fn new(from: Rat, to: Rat) -> Result<Self, SegmentError> {
        if from < Rat::ZERO {
            return Err(SegmentError::NegativeStart(from));
        }
        if from >= to {
            return Err(SegmentError::StartNotBeforeEnd(from, to));
        }
        if to > Rat::ONE {
            return Err(SegmentError::EndAboveOne(to));
        }
        Ok(ExecutionSegment { from, to })
    }

    /// `1/4:2/4`, `25%:50%`, `0.25:0.5`; a single value `v` means `0:v`; empty means `0:1`.
    pub fn parse(s: &str) -> Result<Self, SegmentError> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(Self::FULL);
        }
        match s.split_once(':') {
            Some((a, b)) => Self::new(Rat::parse(a)?, Rat::parse(b)?),
            None => Self::new(Rat::ZERO, Rat::parse(s)?),
        }
    }

    pub fn from(&self) -> Rat {
        self.from
    }

    pub fn to(&self) -> Rat {
        self.to
    }

    pub fn length(&self) -> Rat {
        self.to.sub(self.from)
    }
}

impl fmt::Display for ExecutionSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.from, self.to)
    }
}

/// Adjacent segments, from `executionSegmentSequence` (`0,1/4,1/2,1`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SegmentSequence(pub Vec<ExecutionSegment>);

impl SegmentSequence {
    /// Parses `r1,r2,...,rn` into `(r1,r2], (r2,r3], ...`; empty means no sequence.
    pub fn parse(s: &str) -> Result<Self, SegmentError> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(SegmentSequence(Vec::new()));
        }
        let points = s
            .split(',')
            .map(Rat::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if points.len() < 2 {
            return Err(SegmentError::TooFewPoints(points.len()));
        }
        let segs = points
            .windows(2)
            .map(|w| ExecutionSegment::new(w[0], w[1]))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SegmentSequence(segs))
    }
}

impl fmt::Display for SegmentSequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            if first {
                write!(f, "{}", s.from)?;
                first = false;
            }
            write!(f, ",{}", s.to)?;
        }
        Ok(())
    }
}

/// A full sequence with its striping precomputed (k6's `ExecutionSegmentSequenceWrapper`).
#[derive(Debug)]
struct Striping {
    segments: Vec<ExecutionSegment>,
    lcd: i64,
    /// Per segment: the first index it owns in each `lcd`-long cycle, then the gaps to its next
    /// indices (the last gap wraps to the next cycle's first).
    offsets: Vec<Vec<i64>>,
}

impl Striping {
    fn new(segments: Vec<ExecutionSegment>) -> Striping {
        let lcd = segments.iter().fold(1i64, |acc, s| {
            let d = s.length().denom();
            acc / gcd(acc, d) * d
        });
        let mut order: Vec<(i64, usize)> = segments
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let l = s.length();
                (l.numer() * (lcd / l.denom()), i)
            })
            .collect();
        // Biggest segments first, ties in sequence order (a stable sort, as in k6).
        order.sort_by_key(|&(norm, _)| std::cmp::Reverse(norm));
        let mut offsets: Vec<Vec<i64>> = vec![Vec::new(); segments.len()];
        let mut prev = vec![0i64; segments.len()];
        let mut chosen = vec![0i64; segments.len()];
        for i in 0..lcd {
            for (sorted, &(norm, orig)) in order.iter().enumerate() {
                let num = chosen[sorted] * lcd;
                if i > num / norm || (i == num / norm && num % norm == 0) {
                    chosen[sorted] += 1;
                    offsets[orig].push(i - prev[orig]);
                    prev[orig] = i;
                    if offsets[orig].len() as i64 == norm {
                        let first = offsets[orig][0];
                        offsets[orig].push(first + lcd - i);
                    }
                    break;
                }
            }
        }
        Striping {
            segments,
            lcd,
            offsets,
        }
    }

    fn scale(&self, index: usize, value: i64) -> i64 {
        let start = self.offsets[index][0];
        let offs = &self.offsets[index][1..];
        let mut result = (value / self.lcd) * offs.len() as i64;
        let rem = value % self.lcd;
        let (mut gi, mut i) = (0, start);
        while i < rem {
            result += 1;
            i += offs[gi];
            gi += 1;
        }
        result
    }
}

/// This instance's segment within its (filled) sequence: what every executor scales by.
#[derive(Clone, Debug)]
pub struct ExecutionTuple {
    striping: Arc<Striping>,
    index: usize,
}

impl ExecutionTuple {
    /// k6's `NewExecutionTuple`: the sequence (or, without one, the segment alone) is filled with
    /// the missing pieces to cover `0:1`, and the segment must be one of its parts.
    pub fn new(
        segment: Option<ExecutionSegment>,
        sequence: Option<&SegmentSequence>,
    ) -> Result<Self, SegmentError> {
        let segment = segment.unwrap_or(ExecutionSegment::FULL);
        let mut segs: Vec<ExecutionSegment> = match sequence {
            Some(seq) if !seq.0.is_empty() => seq.0.clone(),
            _ => vec![segment],
        };
        if segs[0].from != Rat::ZERO {
            segs.insert(0, ExecutionSegment::new(Rat::ZERO, segs[0].from)?);
        }
        let last = segs[segs.len() - 1].to;
        if last != Rat::ONE {
            segs.push(ExecutionSegment::new(last, Rat::ONE)?);
        }
        let index = segs.iter().position(|s| *s == segment).ok_or_else(|| {
            SegmentError::NotInSequence(segment, SegmentSequence(segs.clone()).to_string())
        })?;
        Ok(ExecutionTuple {
            striping: Arc::new(Striping::new(segs)),
            index,
        })
    }

    /// The whole test on one instance.
    pub fn full() -> Self {
        Self::new(None, None).expect("0:1 is a valid segment")
    }

    pub fn segment(&self) -> ExecutionSegment {
        self.striping.segments[self.index]
    }

    /// This segment's share of `value` whole things (VUs, iterations): the shares of all segments
    /// of the sequence sum to `value`, and grow monotonically with it.
    pub fn scale(&self, value: u64) -> u64 {
        if self.striping.segments.len() == 1 {
            return value;
        }
        self.striping.scale(self.index, value as i64) as u64
    }

    /// `(start, offsets, lcd)`: the first global index this segment owns, then the gaps between
    /// its indices, repeating every `lcd` indices.
    pub fn striped_offsets(&self) -> (i64, &[i64], i64) {
        let o = &self.striping.offsets[self.index];
        (o[0], &o[1..], self.striping.lcd)
    }

    /// k6's `GetNewExecutionTupleFromValue`: the sequence re-cut so that each segment's length is
    /// its share of `value`, dropping empty ones; None when this segment gets nothing.
    pub fn for_value(&self, value: u64) -> Option<ExecutionTuple> {
        let value = value as i64;
        if value < 1 {
            return None;
        }
        if value % self.striping.lcd == 0 {
            return Some(self.clone());
        }
        let mut segs = Vec::new();
        let mut new_index = None;
        let mut prev = 0i64;
        for i in 0..self.striping.segments.len() {
            let v = self.striping.scale(i, value);
            if v == 0 {
                continue;
            }
            if i == self.index {
                new_index = Some(segs.len());
            }
            segs.push(ExecutionSegment {
                from: Rat::new(prev, value),
                to: Rat::new(prev + v, value),
            });
            prev += v;
        }
        Some(ExecutionTuple {
            striping: Arc::new(Striping::new(segs)),
            index: new_index?,
        })
    }

    /// The iterator over this segment's share of a global 1-based index.
    pub fn index(&self) -> SegmentedIndex {
        let (start, offsets, lcd) = self.striped_offsets();
        SegmentedIndex {
            start,
            lcd,
            offsets: offsets.to_vec(),
            scaled: 0,
            unscaled: 0,
        }
    }
}

/// k6's `SegmentedIndex`: walks this segment's values (`scaled`, 1-based) and the matching global
/// values (`unscaled`, 1-based).
#[derive(Clone, Debug)]
pub struct SegmentedIndex {
    start: i64,
    lcd: i64,
    offsets: Vec<i64>,
    scaled: i64,
    unscaled: i64,
}

impl SegmentedIndex {
    /// Moves to the next value this segment owns; returns `(scaled, unscaled)`.
    pub fn advance(&mut self) -> (i64, i64) {
        if self.scaled == 0 {
            self.unscaled += self.start + 1;
        } else {
            self.unscaled += self.offsets[(self.scaled - 1) as usize % self.offsets.len()];
        }
        self.scaled += 1;
        (self.scaled, self.unscaled)
    }

    /// Moves back one value; calling it at 0 is a caller bug.
    pub fn retreat(&mut self) -> (i64, i64) {
        if self.scaled == 1 {
            self.unscaled -= self.start + 1;
        } else {
            self.unscaled -= self.offsets[(self.scaled - 2) as usize % self.offsets.len()];
        }
        self.scaled -= 1;
        (self.scaled, self.unscaled)
    }

    /// Moves to the biggest scaled value whose unscaled value is at most `value`.
    pub fn go_to(&mut self, value: i64) -> (i64, i64) {
        let whole = value / self.lcd;
        self.scaled = whole * self.offsets.len() as i64;
        self.unscaled = whole * self.lcd + self.start + 1;
        let mut gi = 0usize;
        let mut i = self.start;
        while i < value % self.lcd {
            self.scaled += 1;
            self.unscaled += self.offsets[gi];
            i += self.offsets[gi];
            gi += 1;
        }
        if gi > 0 {
            self.unscaled -= self.offsets[gi - 1];
        } else if self.scaled > 0 {
            self.unscaled -= self.offsets[self.offsets.len() - 1];
        }
        if self.scaled == 0 {
            self.unscaled = 0;
        }
        (self.scaled, self.unscaled)
    }

    /// The global (unscaled, 1-based) value of this segment's `n`-th (1-based) value, without
    /// moving: how k6 numbers VUs and iterations in the whole test.
    pub fn unscaled_of(&self, n: i64) -> i64 {
        if n <= 0 {
            return 0;
        }
        let per_cycle = self.offsets.len() as i64;
        let (cycles, within) = ((n - 1) / per_cycle, (n - 1) % per_cycle);
        let mut v = cycles * self.lcd + self.start + 1;
        for o in &self.offsets[..within as usize] {
            v += o;
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(seg: &str, seq: &str) -> ExecutionTuple {
        let seq = SegmentSequence::parse(seq).unwrap();
        ExecutionTuple::new(Some(ExecutionSegment::parse(seg).unwrap()), Some(&seq)).unwrap()
    }

    #[test]
    fn parses_k6_forms() {
        let s = ExecutionSegment::parse("1/4:2/4").unwrap();
        assert_eq!(s.to_string(), "1/4:1/2");
        assert_eq!(
            ExecutionSegment::parse("50%:75%").unwrap().to_string(),
            "1/2:3/4"
        );
        assert_eq!(ExecutionSegment::parse("0.5").unwrap().to_string(), "0:1/2");
        assert_eq!(
            ExecutionSegment::parse("2/4:75%").unwrap().to_string(),
            "1/2:3/4"
        );
        assert_eq!(ExecutionSegment::parse("").unwrap(), ExecutionSegment::FULL);
        assert!(ExecutionSegment::parse("1/2:1/4").is_err());
        assert!(ExecutionSegment::parse("0:3/2").is_err());
        assert!(ExecutionSegment::parse("abc").is_err());
        let seq = SegmentSequence::parse("0,1/4,1/2,1").unwrap();
        assert_eq!(seq.0.len(), 3);
        assert_eq!(seq.to_string(), "0,1/4,1/2,1");
        assert!(SegmentSequence::parse("0").is_err());
    }

    /// The table from k6's ExecutionTuple documentation (segments 50%, 25%, 25%).
    #[test]
    fn matches_k6_documented_example() {
        let seq = "0,1/2,3/4,1";
        let a = tuple("0:1/2", seq);
        let b = tuple("1/2:3/4", seq);
        let c = tuple("3/4:1", seq);
        let got: Vec<_> = (1..=12)
            .map(|v| (a.scale(v), b.scale(v), c.scale(v)))
            .collect();
        let want_a = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6];
        let want_b = [0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3];
        let want_c = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3];
        for (i, (x, y, z)) in got.into_iter().enumerate() {
            assert_eq!(
                (x, y, z),
                (want_a[i], want_b[i], want_c[i]),
                "value {}",
                i + 1
            );
        }
        // Striped iterators: 0,2,4,... / 1,5,9,... / 3,7,11,... (0-based), here 1-based.
        let mut ia = a.index();
        let mut ib = b.index();
        let mut ic = c.index();
        let ua: Vec<i64> = (0..4).map(|_| ia.advance().1).collect();
        let ub: Vec<i64> = (0..3).map(|_| ib.advance().1).collect();
        let uc: Vec<i64> = (0..3).map(|_| ic.advance().1).collect();
        assert_eq!(ua, [1, 3, 5, 7]);
        assert_eq!(ub, [2, 6, 10]);
        assert_eq!(uc, [4, 8, 12]);
        assert_eq!(ib.unscaled_of(3), 10);
    }

    #[test]
    fn parts_sum_to_the_whole() {
        let sequences = [
            "0,1/2,1",
            "0,1/3,2/3,1",
            "0,1/4,1/2,3/4,1",
            "0,1/2,3/4,1",
            "0,3/5,1",
            "0,1/7,3/7,1",
            "0,0.1,0.35,0.6,1",
            "0,1/8,1/3,1/2,5/6,1",
        ];
        for seq in sequences {
            let parsed = SegmentSequence::parse(seq).unwrap();
            let tuples: Vec<_> = parsed
                .0
                .iter()
                .map(|s| ExecutionTuple::new(Some(*s), Some(&parsed)).unwrap())
                .collect();
            for value in 0..500u64 {
                let sum: u64 = tuples.iter().map(|t| t.scale(value)).sum();
                assert_eq!(sum, value, "sequence {seq}, value {value}");
                // Re-cut tuples (how shared-iterations and arrival-rate scale) sum too.
                if value > 0 {
                    let iters = value * 7 + 3;
                    let sum: u64 = tuples
                        .iter()
                        .filter_map(|t| t.for_value(value))
                        .map(|t| t.scale(iters))
                        .sum();
                    assert_eq!(sum, iters, "sequence {seq}, re-cut by {value}");
                }
            }
            // The striped indices of all segments cover each global index exactly once.
            let mut seen = vec![0u32; 240];
            for t in &tuples {
                let mut idx = t.index();
                loop {
                    let (_, u) = idx.advance();
                    if u as usize > seen.len() {
                        break;
                    }
                    seen[u as usize - 1] += 1;
                }
            }
            assert!(seen.iter().all(|&c| c == 1), "sequence {seq}: {seen:?}");
        }
    }

    #[test]
    fn segment_without_sequence_is_filled_around() {
        let t =
            ExecutionTuple::new(Some(ExecutionSegment::parse("1/4:1/2").unwrap()), None).unwrap();
        let rest =
            ExecutionTuple::new(Some(ExecutionSegment::parse("0:1/4").unwrap()), None).unwrap();
        assert_eq!(t.scale(4), 1);
        assert_eq!(rest.scale(4), 1);
        assert_eq!(ExecutionTuple::full().scale(17), 17);
        let bad = SegmentSequence::parse("0,1/3,1").unwrap();
        assert!(
            ExecutionTuple::new(Some(ExecutionSegment::parse("0:1/2").unwrap()), Some(&bad))
                .is_err()
        );
    }

    #[test]
    fn go_to_and_retreat_agree_with_advance() {
        let t = tuple("1/3:2/3", "0,1/3,2/3,1");
        let mut walk = t.index();
        let mut pairs = Vec::new();
        for _ in 0..10 {
            pairs.push(walk.advance());
        }
        for (s, u) in &pairs {
            let mut j = t.index();
            assert_eq!(j.go_to(*u), (*s, *u));
        }
        let mut back = walk.clone();
        assert_eq!(back.retreat(), pairs[8]);
    }
}
