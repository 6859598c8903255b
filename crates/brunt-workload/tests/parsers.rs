//! No line makes a parser, or the fit behind it, panic: arbitrary text, and valid lines of
//! every format cut, spliced and mangled (proptest, 512 cases each).

use brunt_workload::format::{JsonFields, LogFormat, Parser};
use brunt_workload::{FitOptions, Fitter};
use clap::ValueEnum;
use proptest::prelude::*;

const VALID: &[&str] = &[
    r#"192.0.2.7 - alice [10/Oct/2000:13:55:36 -0700] "GET /api/orders/12?x=1&y HTTP/1.1" 200 2326 "http://ex/" "Mozilla/5.0 \"q\"" 0.042"#,
    r#"h - - [10/Oct/2000:13:55:36 +0000] "HEAD /3f2504e0-4f89-11d3-9a0c-0305e82c3301 HTTP/1.0" 304 -"#,
    r#"{"time":"2020-01-01T00:00:00.5Z","method":"GET","path":"/a/1?q=2","status":200,"bytes":5,"duration_ms":1.5,"ip":"1.2.3.4","user_agent":"x"}"#,
    r#"{"time_iso8601":"2020-01-01T00:00:00+00:00","request":"GET /a HTTP/1.1","status":"200","request_time":"0.010","remote_addr":"1.2.3.4"}"#,
    r#"https 2018-07-02T22:23:00.186641Z app/lb/50dc 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/api/items/7?x=1 HTTP/1.1" "curl/7.46.0" ECDHE TLSv1.2 arn"#,
    r#"[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0" "locations" "tcp://10.0.2.1:80""#,
];

/// Parses `line` in every format and feeds what parses to a fit.
fn every_format(line: &str) {
    let mut fitter = Fitter::new(FitOptions::default());
    for f in LogFormat::value_variants() {
        let mut fields = JsonFields::default();
        fields.set_session("ip");
        let mut p = Parser::new(*f, fields);
        if let Ok(rec) = p.parse(line) {
            fitter.push(&rec, 1);
        }
    }
    let _ = LogFormat::detect(line);
    let lines = brunt_workload::model::Lines {
        total: 1,
        parsed: 1,
        unparsed: 0,
        samples: Vec::new(),
    };
    let _ = fitter.finish("fuzz", "any", lines);
}

/// The byte offset nearest `at` that is a char boundary of `s`.
fn boundary(s: &str, at: usize) -> usize {
    (0..=at.min(s.len()))
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text(line in ".{0,300}") {
        every_format(&line);
    }

    #[test]
    fn valid_lines_spliced(which in 0..VALID.len(), at in 0usize..400, cut in 0usize..40, junk in "[\\[\\]\" :/?&={}0-9a-zA-Z\\\\-]{0,12}") {
        let line = VALID[which];
        let a = boundary(line, at);
        let b = boundary(line, a + cut).max(a);
        let spliced = format!("{}{}{}", &line[..a], junk, &line[b..]);
        every_format(&spliced);
    }

    #[test]
    fn extreme_numbers_in_fields(n in any::<i64>(), f in any::<f64>()) {
        for line in VALID {
            every_format(&line.replace("200", &n.to_string()).replace("0.042", &f.to_string()));
            every_format(&line.replace("2020", &n.to_string()).replace("226", &n.to_string()));
        }
    }
}
