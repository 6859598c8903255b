//! Parsing `/status/{codes}`: one code, or a weighted choice as httpbin has
//! (`200,500` picks either; `200:0.9,500:0.1` picks 500 one time in ten), so a
//! load test can meet a realistic mix of failures.

use http::StatusCode;

/// The status to answer with for the path argument `arg`, or what is wrong with it.
pub(crate) fn pick(arg: &str) -> Result<StatusCode, String> {
    if !arg.contains(',') && !arg.contains(':') {
        return code(arg);
    }
    let mut choices = Vec::new();
    for choice in arg.split(',') {
        let (code_text, weight) = match choice.split_once(':') {
            Some((code_text, weight_text)) => {
                let weight = weight_text
                    .parse::<f64>()
                    .ok()
                    .filter(|w| w.is_finite() && *w >= 0.0)
                    .ok_or_else(|| {
                        format!("/status/{arg}: weight {weight_text:?} is not a number >= 0")
                    })?;
                (code_text, weight)
            }
            None => (choice, 1.0),
        };
        choices.push((code(code_text)?, weight));
    }
    let total: f64 = choices.iter().map(|(_, weight)| weight).sum();
    if total <= 0.0 {
        return Err(format!("/status/{arg}: the weights add up to 0"));
    }
    let mut point = rand::random::<f64>() * total;
    for &(status, weight) in &choices {
        if point < weight {
            return Ok(status);
        }
        point -= weight;
    }
    // Rounding can leave `point` just past the last weight: that is the last choice with weight.
    let last = choices.iter().rev().find(|(_, weight)| *weight > 0.0);
    Ok(last.expect("total > 0, so one weight is positive").0)
}

/// One final status code, 200-599.
fn code(text: &str) -> Result<StatusCode, String> {
    let code: u16 = text
        .parse()
        .map_err(|_| format!("/status/{{code}}: {text:?} is not an HTTP status code"))?;
    if (100..200).contains(&code) {
        return Err(format!(
            "/status/{code}: 1xx codes are interim responses and cannot end an exchange; use 200-599"
        ));
    }
    match StatusCode::from_u16(code) {
        Ok(status) if code < 600 => Ok(status),
        _ => Err(format!(
            "/status/{code}: not a status code between 100 and 599"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_code_is_that_code() {
        assert_eq!(pick("503"), Ok(StatusCode::SERVICE_UNAVAILABLE));
    }

    #[test]
    fn a_choice_picks_only_listed_codes_with_positive_weight() {
        for _ in 0..200 {
            let status = pick("200,201").unwrap().as_u16();
            assert!(status == 200 || status == 201);
            assert_eq!(pick("404:1,200:0").unwrap(), StatusCode::NOT_FOUND);
        }
    }

    #[test]
    fn bad_choices_are_explained() {
        for (arg, says) in [
            ("200,abc", "\"abc\" is not an HTTP status code"),
            ("200:x", "weight \"x\""),
            ("200:-1", "weight \"-1\""),
            ("200:0,500:0", "add up to 0"),
            ("100", "1xx"),
            ("600", "between 100 and 599"),
        ] {
            let error = pick(arg).unwrap_err();
            assert!(error.contains(says), "{arg}: {error}");
        }
    }
}
