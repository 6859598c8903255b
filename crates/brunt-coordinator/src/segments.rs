//! The execution segments a coordinator hands out: `N` equal ones by default, or the
//! `--execution-segment-sequence` given, checked to cover `0..1` once.

use brunt_engine::SegmentSequence;

/// The run's sequence and each instance's segment (`from:to`), in index order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segments {
    pub sequence: String,
    pub segments: Vec<String>,
}

impl Segments {
    /// `instances` equal segments (`0,1/N,2/N,...,1`), or `given` (a sequence) checked: it must
    /// start at 0, end at 1, rise at every point (no overlap) and have one segment per instance.
    pub fn new(instances: usize, given: Option<&str>) -> Result<Segments, String> {
        if instances == 0 {
            return Err("--instances: must be at least 1".into());
        }
        let text = match given {
            Some(g) => g.to_string(),
            None => {
                let points: Vec<String> = (0..=instances)
                    .map(|i| match i {
                        0 => "0".to_string(),
                        i if i == instances => "1".to_string(),
                        i => format!("{i}/{instances}"),
                    })
                    .collect();
                points.join(",")
            }
        };
        let what = "--execution-segment-sequence";
        let seq = SegmentSequence::parse(&text).map_err(|e| {
            format!("{what} '{text}': {e} (segments must not overlap: each point above the last)")
        })?;
        let (Some(first), Some(last)) = (seq.0.first(), seq.0.last()) else {
            return Err(format!("{what} '{text}': no segments"));
        };
        if first.from().to_f64() != 0.0 || last.to().to_f64() != 1.0 {
            return Err(format!(
                "{what} '{text}' does not cover 0..1: it runs from {} to {}, so part of the test would run nowhere",
                first.from(),
                last.to()
            ));
        }
        if seq.0.len() != instances {
            return Err(format!(
                "{what} '{text}' has {} segments for --instances {instances}: give one segment per instance",
                seq.0.len()
            ));
        }
        Ok(Segments {
            sequence: seq.to_string(),
            segments: seq
                .0
                .iter()
                .map(|s| format!("{}:{}", s.from(), s.to()))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_segments_cover_the_test() {
        let s = Segments::new(4, None).unwrap();
        assert_eq!(s.sequence, "0,1/4,1/2,3/4,1");
        assert_eq!(s.segments, ["0:1/4", "1/4:1/2", "1/2:3/4", "3/4:1"]);
        assert_eq!(Segments::new(1, None).unwrap().segments, ["0:1"]);
    }

    #[test]
    fn bad_sequences_are_named() {
        let e = Segments::new(2, Some("0,1/2")).unwrap_err();
        assert!(e.contains("does not cover 0..1"), "{e}");
        let e = Segments::new(2, Some("1/4,1/2,1")).unwrap_err();
        assert!(e.contains("does not cover 0..1"), "{e}");
        let e = Segments::new(3, Some("0,1/2,1/4,1")).unwrap_err();
        assert!(e.contains("must not overlap"), "{e}");
        let e = Segments::new(3, Some("0,1/2,1")).unwrap_err();
        assert!(e.contains("2 segments for --instances 3"), "{e}");
        assert_eq!(
            Segments::new(2, Some("0,1/3,1")).unwrap().segments,
            ["0:1/3", "1/3:1"]
        );
    }
}
