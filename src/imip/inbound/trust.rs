//! Whether the From address can be believed: reply tokens, and the
//! Authentication-Results header field (RFC 8601) of our own receiving MTA,
//! read with DMARC's relaxed alignment (RFC 7489 section 3.1).
//!
//! Rules:
//! - Only the TOPMOST Authentication-Results field whose authserv-id is in
//!   `trusted_authserv_ids` (compared without case) is read (RFC 8601
//!   section 5: a receiving MTA adds its field on top; anything below it, or
//!   with another authserv-id, may have been written by the sender). That
//!   MTA must remove or rename incoming fields that carry its own
//!   authserv-id (RFC 8601 section 5); herald cannot tell them apart.
//! - In that field, `dmarc=pass` counts (when it names `header.from`, that
//!   must be the From domain); `dkim=pass` counts when `header.d` (or the
//!   domain of `header.i`) is aligned with the From domain; `spf=pass`
//!   counts when the domain of `smtp.mailfrom` is aligned. An explicit
//!   `dmarc=fail` (or `permerror`) overrides the other two, and gives
//!   `Unverified` even under `from_only`: the MTA's DMARC evaluation saw the
//!   same From and refused it (it delivered anyway, e.g. for a p=none
//!   domain).
//! - Precedence: a reply token, then an aligned pass, then `from_only`.
//! - Aligned = same organizational domain. The organizational domain is
//!   approximated without the Public Suffix List: the last two labels, or
//!   the last three when the top-level label has two letters (a country
//!   code) and the second-level label is one of co, com, org, net, ac, gov,
//!   edu ("mail.example.co.uk" → "example.co.uk", "a.b.example.com" →
//!   "example.com"). Suffixes the list would treat differently (e.g.
//!   "github.io" hosts, "example.k12.ca.us") are aligned too loosely or too
//!   strictly; with DMARC evaluated by the MTA (dmarc=pass) this does not
//!   matter.
//! - The field is parsed tolerantly: comments (nested, with quoted-pairs),
//!   quoted strings, folding, spaces around '=', unknown methods and
//!   properties, `reason=` and vendor extras (`action=none`) are skipped; a
//!   field whose first word is already `method=result` (no authserv-id) is
//!   never trusted.
//!
//! Reply tokens: HMAC-SHA-256 of "uid\0attendee" under herald's key,
//! truncated to 16 bytes, base32 (RFC 4648 alphabet) in lower case without
//! padding: 26 characters. A recipient `local+TOKEN@domain` (local prefix and
//! domain compared without case, the token lower-cased) carries one.

use std::borrow::Cow;

use ring::hmac;

use super::{SenderAuth, TrustPolicy};

/// Methods that can vouch for From, best first.
const PREFERENCE: [&str; 3] = ["dmarc", "dkim", "spf"];

/// Length of a reply token in base32 characters (16 bytes).
const TOKEN_LEN: usize = 26;

/// Decide `SenderAuth` for a message from `from` (bare address).
/// `headers` are the top-level fields, topmost first; `recipients` the bare
/// recipient addresses in search order.
pub(super) fn sender_auth(
    headers: &[(&str, Cow<'_, str>)],
    recipients: &[String],
    from: &str,
    policy: &TrustPolicy,
) -> SenderAuth {
    if let Some(t) = recipients.iter().find_map(|r| token_in(r, policy)) {
        return SenderAuth::Token(t);
    }
    match authenticated(headers, from, &policy.trusted_authserv_ids) {
        Ok(method) => SenderAuth::Authenticated(method.into()),
        Err(Failure::DmarcFailed(reason)) => SenderAuth::Unverified(reason),
        Err(_) if policy.from_only => SenderAuth::FromOnly,
        Err(Failure::NotVouched(reason)) => SenderAuth::Unverified(reason),
    }
}

/// The reply token in `addr` (`local+TOKEN@domain`), lower-cased.
fn token_in(addr: &str, policy: &TrustPolicy) -> Option<String> {
    let (local, domain) = (
        policy.reply_token_local.as_deref()?,
        policy.reply_token_domain.as_deref()?,
    );
    let (l, d) = addr.trim().rsplit_once('@')?;
    if !d
        .trim_end_matches('.')
        .eq_ignore_ascii_case(domain.trim_end_matches('.'))
    {
        return None;
    }
    let (prefix, token) = l.split_once('+')?;
    if !prefix.eq_ignore_ascii_case(local) {
        return None;
    }
    let token = token.to_ascii_lowercase();
    let valid = token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
    valid.then_some(token)
}

/// Why nothing vouches for From.
#[derive(Debug, Clone, PartialEq)]
enum Failure {
    /// Our MTA evaluated DMARC for this From and it failed: evidence of
    /// forgery, Unverified even under `from_only`.
    DmarcFailed(String),
    /// No trusted field, or no aligned pass in it.
    NotVouched(String),
}

/// The method that vouches for From ("dmarc", "dkim", "spf"), or why none does.
fn authenticated(
    headers: &[(&str, Cow<'_, str>)],
    from: &str,
    trusted: &[String],
) -> Result<&'static str, Failure> {
    let Some(ar) = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Authentication-Results"))
        .filter_map(|(_, v)| parse_auth_results(v))
        .find(|ar| {
            trusted
                .iter()
                .any(|t| t.trim().eq_ignore_ascii_case(&ar.authserv_id))
        })
    else {
        return Err(Failure::NotVouched(
            "no Authentication-Results from a trusted authserv-id".into(),
        ));
    };
    let from_domain = domain_of(from);
    let mut seen = Vec::new();
    let mut dmarc_failed = false;
    let mut passed: Option<&'static str> = None;
    for r in &ar.results {
        seen.push(format!("{}={}", r.method, r.result));
        let pass = r.result == "pass";
        let ok = match r.method.as_str() {
            "dmarc" => {
                if matches!(r.result.as_str(), "fail" | "permerror") {
                    dmarc_failed = true;
                }
                pass && r
                    .prop("header.from")
                    .is_none_or(|d| domain_of(d) == from_domain)
            }
            "dkim" => {
                pass && r
                    .prop("header.d")
                    .or_else(|| r.prop("header.i"))
                    .is_some_and(|d| aligned(&domain_of(d), &from_domain))
            }
            "spf" => {
                pass && r
                    .prop("smtp.mailfrom")
                    .is_some_and(|d| aligned(&domain_of(d), &from_domain))
            }
            _ => false,
        };
        if ok {
            // Preference: dmarc, then dkim, then spf.
            let m = PREFERENCE
                .into_iter()
                .find(|m| *m == r.method)
                .unwrap_or("spf");
            let rank = |m: &str| PREFERENCE.iter().position(|p| *p == m);
            if passed.is_none_or(|p| rank(m) < rank(p)) {
                passed = Some(m);
            }
        }
    }
    let summary = if seen.is_empty() {
        "no results".to_string()
    } else {
        seen.join(" ")
    };
    match passed {
        _ if dmarc_failed => Err(Failure::DmarcFailed(format!(
            "{}: DMARC failed ({summary})",
            ar.authserv_id
        ))),
        Some(m) => Ok(m),
        None => Err(Failure::NotVouched(format!(
            "{}: nothing aligned with the From domain passed ({summary})",
            ar.authserv_id
        ))),
    }
}

/// The domain of an address or domain (`user@example.com`, `@example.com`,
/// `example.com`), lower-case, without a trailing dot.
fn domain_of(s: &str) -> String {
    let s = s.trim().trim_start_matches('<').trim_end_matches('>');
    let d = s.rsplit_once('@').map_or(s, |(_, d)| d);
    d.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Relaxed alignment: the same organizational domain.
fn aligned(a: &str, b: &str) -> bool {
    !a.is_empty() && !b.is_empty() && org_domain(a) == org_domain(b)
}

/// Approximate organizational domain (see the module documentation).
pub(super) fn org_domain(domain: &str) -> String {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = d.split('.').collect();
    let n = labels.len();
    if n <= 2 {
        return d;
    }
    let tld = labels[n - 1];
    let second = labels[n - 2];
    let keep = if tld.len() == 2
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
        && ["co", "com", "org", "net", "ac", "gov", "edu"].contains(&second)
    {
        3
    } else {
        2
    };
    labels[n - keep..].join(".")
}

/// One `method=result` with its properties.
#[derive(Debug, Clone, PartialEq)]
struct MethodResult {
    /// Lower-case, without a `/version`.
    method: String,
    /// Lower-case.
    result: String,
    /// `ptype.property` (lower-case) and value as written.
    props: Vec<(String, String)>,
}

impl MethodResult {
    fn prop(&self, name: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
struct AuthResults {
    authserv_id: String,
    results: Vec<MethodResult>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Eq,
    Semi,
}

/// Split a header value into words, '=' and ';', dropping comments and
/// white space (folding included) and unquoting quoted strings.
fn tokens(v: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = v.chars().peekable();
    let flush = |word: &mut String, out: &mut Vec<Tok>| {
        if !word.is_empty() {
            out.push(Tok::Word(std::mem::take(word)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '(' => {
                flush(&mut word, &mut out);
                let mut depth = 1usize;
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
            '"' => {
                flush(&mut word, &mut out);
                let mut q = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                q.push(n);
                            }
                        }
                        '"' => break,
                        o => q.push(o),
                    }
                }
                out.push(Tok::Word(q));
            }
            ';' => {
                flush(&mut word, &mut out);
                out.push(Tok::Semi);
            }
            '=' => {
                flush(&mut word, &mut out);
                out.push(Tok::Eq);
            }
            c if c.is_whitespace() => flush(&mut word, &mut out),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Parse an Authentication-Results value (RFC 8601 section 2.2), tolerantly.
/// None when there is no authserv-id.
fn parse_auth_results(v: &str) -> Option<AuthResults> {
    let toks = tokens(v);
    let mut segments = toks.split(|t| *t == Tok::Semi);
    let head = segments.next()?;
    let authserv_id = match head {
        [Tok::Word(id), rest @ ..] if !matches!(rest.first(), Some(Tok::Eq)) => id.clone(),
        _ => return None,
    };
    let mut results = Vec::new();
    for seg in segments {
        let pairs = pairs(seg);
        let Some(((method, result), rest)) = pairs.split_first() else {
            continue;
        };
        let method = method.split('/').next().unwrap_or("").to_ascii_lowercase();
        if method.is_empty() || method == "none" {
            continue;
        }
        results.push(MethodResult {
            method,
            result: result.to_ascii_lowercase(),
            props: rest
                .iter()
                .filter(|(n, _)| n.contains('.'))
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                .collect(),
        });
    }
    Some(AuthResults {
        authserv_id,
        results,
    })
}

/// `name = value` pairs of one resinfo; stray words and '=' (base64 padding
/// in `header.b=...==`) are skipped.
fn pairs(seg: &[Tok]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < seg.len() {
        match (seg.get(i), seg.get(i + 1), seg.get(i + 2)) {
            (Some(Tok::Word(n)), Some(Tok::Eq), Some(Tok::Word(v))) => {
                out.push((n.clone(), v.clone()));
                i += 3;
            }
            (Some(Tok::Word(n)), Some(Tok::Eq), _) => {
                out.push((n.clone(), String::new()));
                i += 2;
            }
            _ => i += 1,
        }
    }
    out
}

/// RFC 4648 base32 alphabet, lower case.
const B32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

fn base32_lower(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buf: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(B32[((buf >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(B32[((buf << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Reply token for (uid, attendee): HMAC-SHA-256 of "uid\0attendee" under
/// `key`, truncated to 16 bytes, lower-case base32 without padding (26
/// characters). The caller passes the attendee as it will compare it later
/// (normalised "mailto:..." address).
pub fn reply_token(key: &[u8], uid: &str, attendee: &str) -> String {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&k);
    ctx.update(uid.as_bytes());
    ctx.update(&[0]);
    ctx.update(attendee.as_bytes());
    let tag = ctx.sign();
    base32_lower(&tag.as_ref()[..16])
}

/// Whether `token` is the reply token for (uid, attendee). The comparison
/// takes the same time wherever the first difference is (the token is
/// lower-cased first; only its length can end it early).
pub fn verify_reply_token(key: &[u8], token: &str, uid: &str, attendee: &str) -> bool {
    let expected = reply_token(key, uid, attendee);
    let given = token.trim().to_ascii_lowercase();
    if given.len() != expected.len() {
        return false;
    }
    let diff = given
        .bytes()
        .zip(expected.bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdrs(list: &[(&'static str, &'static str)]) -> Vec<(&'static str, Cow<'static, str>)> {
        list.iter().map(|(n, v)| (*n, Cow::Borrowed(*v))).collect()
    }

    fn trusted() -> Vec<String> {
        vec!["mx.herald.test".into()]
    }

    #[test]
    fn parses_tolerantly() {
        let ar = parse_auth_results(
            " mx.herald.test (Postfix) 1;\r\n\tdkim=pass (2048-bit key; unprotected) header.i=@gmail.example header.s=sel header.b=AbC+/d==;\r\n spf = pass (sender is \"ok\") smtp.mailfrom=\"bounce@gmail.example\";\r\n dmarc=pass (p=none dis=none) header.from=gmail.example; arc=none",
        )
        .unwrap();
        assert_eq!(ar.authserv_id, "mx.herald.test");
        assert_eq!(ar.results.len(), 4);
        assert_eq!(ar.results[0].method, "dkim");
        assert_eq!(ar.results[0].prop("header.i"), Some("@gmail.example"));
        assert_eq!(ar.results[0].prop("header.b"), Some("AbC+/d"));
        assert_eq!(ar.results[1].result, "pass");
        assert_eq!(
            ar.results[1].prop("smtp.mailfrom"),
            Some("bounce@gmail.example")
        );
        assert_eq!(ar.results[2].prop("header.from"), Some("gmail.example"));
        assert_eq!(parse_auth_results("mx.example; none").unwrap().results, []);
        // Microsoft style without authserv-id: never trusted.
        assert_eq!(
            parse_auth_results("spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=x.example"),
            None
        );
        assert_eq!(parse_auth_results(""), None);
        // Unbalanced comment and quote do not panic.
        assert!(parse_auth_results("mx (a (b; dkim=pass").is_some());
        assert!(parse_auth_results("mx; dkim=\"pass").is_some());
    }

    #[test]
    fn org_domains() {
        for (d, o) in [
            ("example.com", "example.com"),
            ("mail.example.com", "example.com"),
            ("a.b.example.co.uk", "example.co.uk"),
            ("example.co.uk", "example.co.uk"),
            ("bounce.example.com.au", "example.com.au"),
            ("x.example.ac.jp", "example.ac.jp"),
            ("a.example.co", "example.co"),
            ("EXAMPLE.ORG.", "example.org"),
            ("localhost", "localhost"),
        ] {
            assert_eq!(org_domain(d), o, "{d}");
        }
        assert!(aligned("mail.example.com", "example.com"));
        assert!(aligned("example.com", "news.example.com"));
        assert!(!aligned("example.com", "example.net"));
        assert!(!aligned("evil.co.uk", "example.co.uk"));
        assert!(!aligned("", ""));
    }

    #[test]
    fn alignment_rules() {
        let t = trusted();
        let auth = |v: &'static str, from: &str| {
            authenticated(&hdrs(&[("Authentication-Results", v)]), from, &t)
        };
        assert_eq!(
            auth(
                "mx.herald.test; dmarc=pass header.from=gmail.example",
                "a@gmail.example"
            ),
            Ok("dmarc")
        );
        assert!(
            auth(
                "mx.herald.test; dmarc=pass header.from=evil.example",
                "a@gmail.example"
            )
            .is_err()
        );
        assert_eq!(
            auth(
                "mx.herald.test; dkim=pass header.d=mail.gmail.example",
                "a@gmail.example"
            ),
            Ok("dkim")
        );
        assert!(
            auth(
                "mx.herald.test; dkim=pass header.d=evil.example",
                "a@gmail.example"
            )
            .is_err()
        );
        assert!(
            auth(
                "mx.herald.test; dkim=fail header.d=gmail.example",
                "a@gmail.example"
            )
            .is_err()
        );
        assert_eq!(
            auth(
                "mx.herald.test; spf=pass smtp.mailfrom=bounce@gmail.example",
                "a@gmail.example"
            ),
            Ok("spf")
        );
        assert!(
            auth(
                "mx.herald.test; spf=pass smtp.mailfrom=evil.example",
                "a@gmail.example"
            )
            .is_err()
        );
        assert!(auth("mx.herald.test; spf=pass", "a@gmail.example").is_err());
        // Explicit DMARC failure wins.
        assert!(
            auth(
                "mx.herald.test; dkim=pass header.d=gmail.example; dmarc=fail header.from=gmail.example",
                "a@gmail.example"
            )
            .is_err()
        );
        // dmarc preferred over spf whatever the order.
        assert_eq!(
            auth(
                "mx.herald.test; spf=pass smtp.mailfrom=gmail.example; dmarc=pass",
                "a@gmail.example"
            ),
            Ok("dmarc")
        );
        assert!(
            auth(
                "MX.Herald.Test; DKIM=Pass header.d=Gmail.Example",
                "a@gmail.example"
            )
            .is_ok()
        );
    }

    #[test]
    fn only_topmost_trusted_field_counts() {
        let t = trusted();
        // Untrusted pass on top, trusted fail below: Unverified.
        let h = hdrs(&[
            (
                "Authentication-Results",
                "evil.example; dmarc=pass header.from=gmail.example",
            ),
            (
                "Authentication-Results",
                "mx.herald.test; dmarc=fail header.from=gmail.example",
            ),
            (
                "Authentication-Results",
                "mx.herald.test; dmarc=pass header.from=gmail.example",
            ),
        ]);
        assert!(authenticated(&h, "a@gmail.example", &t).is_err());
        let none = hdrs(&[(
            "Authentication-Results",
            "evil.example; dmarc=pass header.from=gmail.example",
        )]);
        assert!(authenticated(&none, "a@gmail.example", &t).is_err());
        assert!(authenticated(&none, "a@gmail.example", &[]).is_err());
    }

    #[test]
    fn tokens_round_trip() {
        let key = b"0123456789abcdef0123456789abcdef";
        let tok = reply_token(key, "uid-1@herald.test", "mailto:alice@gmail.example");
        assert_eq!(tok.len(), TOKEN_LEN);
        assert!(tok.bytes().all(|b| B32.contains(&b)));
        assert_eq!(
            tok,
            reply_token(key, "uid-1@herald.test", "mailto:alice@gmail.example")
        );
        assert!(verify_reply_token(
            key,
            &tok,
            "uid-1@herald.test",
            "mailto:alice@gmail.example"
        ));
        assert!(verify_reply_token(
            key,
            &tok.to_ascii_uppercase(),
            "uid-1@herald.test",
            "mailto:alice@gmail.example"
        ));
        assert!(!verify_reply_token(
            key,
            &tok,
            "uid-1@herald.test",
            "mailto:bob@outlook.example"
        ));
        assert!(!verify_reply_token(
            key,
            &tok,
            "uid-2@herald.test",
            "mailto:alice@gmail.example"
        ));
        assert!(!verify_reply_token(
            b"other key",
            &tok,
            "uid-1@herald.test",
            "mailto:alice@gmail.example"
        ));
        assert!(!verify_reply_token(
            key,
            &tok[..25],
            "uid-1@herald.test",
            "mailto:alice@gmail.example"
        ));
        assert!(!verify_reply_token(
            key,
            "",
            "uid-1@herald.test",
            "mailto:alice@gmail.example"
        ));
        // "uid\0attendee" separates the fields: no ambiguity by shifting.
        assert_ne!(reply_token(key, "ab", "c"), reply_token(key, "a", "bc"));
        // RFC 4648 test vectors (lower case, no padding).
        assert_eq!(base32_lower(b"f"), "my");
        assert_eq!(base32_lower(b"foobar"), "mzxw6ytboi");
    }

    #[test]
    fn token_addresses() {
        let policy = TrustPolicy {
            reply_token_local: Some("herald".into()),
            reply_token_domain: Some("example.org".into()),
            ..TrustPolicy::default()
        };
        let tok = "abcdefghijklmnopqrstuvwxyz";
        assert_eq!(
            token_in(&format!("herald+{tok}@example.org"), &policy),
            Some(tok.into())
        );
        assert_eq!(
            token_in(
                &format!("Herald+{}@Example.ORG", tok.to_ascii_uppercase()),
                &policy
            ),
            Some(tok.into())
        );
        assert_eq!(token_in(&format!("other+{tok}@example.org"), &policy), None);
        assert_eq!(
            token_in(&format!("herald+{tok}@example.net"), &policy),
            None
        );
        assert_eq!(token_in("herald+short@example.org", &policy), None);
        assert_eq!(
            token_in(&format!("herald+{tok}1@example.org"), &policy),
            None
        );
        assert_eq!(token_in("herald@example.org", &policy), None);
        assert_eq!(
            token_in(
                &format!("herald+{tok}@example.org"),
                &TrustPolicy::default()
            ),
            None
        );
    }
}
