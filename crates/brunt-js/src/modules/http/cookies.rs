//! Cookie jars, one per VU by default as in k6, plus the jars a script creates with `new http.CookieJar()`.

use std::time::{Duration, SystemTime};
use url::Url;

#[derive(Clone, Debug)]
pub(crate) struct Cookie {
    pub name: String,
    pub value: String,
    pub domain: String,
    /// Without a `Domain` attribute a cookie goes back only to the host that set it.
    pub host_only: bool,
    pub path: String,
    pub secure: bool,
    pub http_only: bool,
    pub expires: Option<SystemTime>,
}

#[derive(Default, Debug)]
pub(crate) struct Jar {
    cookies: Vec<Cookie>,
}

fn default_path(url: &Url) -> String {
    let p = url.path();
    match p.rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => p[..i].into(),
    }
}

fn domain_matches(host: &str, c: &Cookie) -> bool {
    if c.host_only {
        return host == c.domain;
    }
    host == c.domain || host.ends_with(&format!(".{}", c.domain))
}

fn path_matches(path: &str, cookie_path: &str) -> bool {
    path == cookie_path
        || (path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || path[cookie_path.len()..].starts_with('/')))
}

/// Parses one `Set-Cookie` header value as sent by `url`'s server.
pub(crate) fn parse_set_cookie(url: &Url, header: &str) -> Option<Cookie> {
    let mut parts = header.split(';');
    let (name, value) = parts.next()?.split_once('=')?;
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let mut c = Cookie {
        name: name.trim().into(),
        value: value.trim().trim_matches('"').into(),
        domain: host.clone(),
        host_only: true,
        path: default_path(url),
        secure: false,
        http_only: false,
        expires: None,
    };
    if c.name.is_empty() {
        return None;
    }
    for attr in parts {
        let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "domain" if !v.is_empty() => {
                c.domain = v.trim_start_matches('.').to_ascii_lowercase();
                c.host_only = false;
            }
            "path" if v.starts_with('/') => c.path = v.into(),
            "secure" => c.secure = true,
            "httponly" => c.http_only = true,
            "max-age" => {
                if let Ok(secs) = v.parse::<i64>() {
                    c.expires = Some(if secs <= 0 {
                        SystemTime::UNIX_EPOCH
                    } else {
                        SystemTime::now() + Duration::from_secs(secs as u64)
                    });
                }
            }
            "expires" if c.expires.is_none() => {
                if let Some(t) = parse_http_date(v) {
                    c.expires = Some(t);
                }
            }
            _ => {}
        }
    }
    Some(c)
}

/// `Wed, 21 Oct 2015 07:28:00 GMT` (the form servers send) to a time.
fn parse_http_date(s: &str) -> Option<SystemTime> {
    let mut it = s.split([' ', ',', ':', '-']).filter(|p| !p.is_empty());
    let _weekday = it.next()?;
    let day: u64 = it.next()?.parse().ok()?;
    let month = match &it.next()?.to_ascii_lowercase()[..3] {
        "jan" => 1,
        "feb" => 2,
        "mar" => 3,
        "apr" => 4,
        "may" => 5,
        "jun" => 6,
        "jul" => 7,
        "aug" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    };
    let mut year: i64 = it.next()?.parse().ok()?;
    if year < 100 {
        year += if year < 70 { 2000 } else { 1900 };
    }
    let (h, m, sec): (u64, u64, u64) = (
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    );
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    if days < 0 {
        return Some(SystemTime::UNIX_EPOCH);
    }
    Some(
        SystemTime::UNIX_EPOCH + Duration::from_secs(days as u64 * 86400 + h * 3600 + m * 60 + sec),
    )
}

impl Jar {
    /// No cookie stored: a request needs no `Cookie` header from this jar.
    pub(crate) fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// Stores (or, when expired, removes) a cookie.
    pub(crate) fn store(&mut self, c: Cookie) {
        self.cookies
            .retain(|o| !(o.name == c.name && o.domain == c.domain && o.path == c.path));
        if c.expires.is_none_or(|t| t > SystemTime::now()) {
            self.cookies.push(c);
        }
    }

    /// Cookies to send to `url`, longest path first.
    pub(crate) fn matching(&self, url: &Url) -> Vec<&Cookie> {
        let host = url.host_str().unwrap_or("").to_ascii_lowercase();
        let now = SystemTime::now();
        let mut v: Vec<&Cookie> = self
            .cookies
            .iter()
            .filter(|c| {
                domain_matches(&host, c)
                    && path_matches(url.path(), &c.path)
                    && (!c.secure || url.scheme() == "https")
                    && c.expires.is_none_or(|t| t > now)
            })
            .collect();
        v.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        v
    }

    pub(crate) fn clear_for(&mut self, url: &Url) {
        let host = url.host_str().unwrap_or("").to_ascii_lowercase();
        self.cookies.retain(|c| !domain_matches(&host, c));
    }

    pub(crate) fn delete(&mut self, url: &Url, name: &str) {
        let host = url.host_str().unwrap_or("").to_ascii_lowercase();
        self.cookies
            .retain(|c| !(c.name == name && domain_matches(&host, c)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_go_back_to_matching_host_and_path_and_expire() {
        let u = Url::parse("http://127.0.0.1:8080/cookies/set?a=1").unwrap();
        let mut jar = Jar::default();
        jar.store(parse_set_cookie(&u, "a=1; Path=/").unwrap());
        jar.store(parse_set_cookie(&u, "b=2; Path=/other").unwrap());
        let names = |url: &str| -> Vec<String> {
            jar.matching(&Url::parse(url).unwrap())
                .iter()
                .map(|c| c.name.clone())
                .collect()
        };
        assert_eq!(names("http://127.0.0.1:8080/cookies"), vec!["a"]);
        assert_eq!(names("http://127.0.0.1:8080/other/x"), vec!["b", "a"]);
        assert!(names("http://example.com/").is_empty());
        let mut jar2 = Jar::default();
        jar2.store(parse_set_cookie(&u, "a=1; Path=/").unwrap());
        jar2.store(parse_set_cookie(&u, "a=; Path=/; Max-Age=0").unwrap());
        assert!(jar2.matching(&u).is_empty());
        assert!(parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").is_some());
    }
}
