//! Fuzzing the EC2 front end's parsers of user input (issue 12): the query string and form
//! body as the server reads them (`form_urlencoded` pairs into [`Params`]), the dotted
//! readers (`Filter.N.Name`, `Filter.N.Value.M`, `Tag.N.Key`, `InstanceId.N`, with huge,
//! zero-padded and malformed indexes), pages and their tokens, EC2 ids, filter wildcards,
//! Signature V4 (the `Authorization` header with odd fields, presigned queries, canonical
//! requests of any path and query), Signature V2, and the two date forms.
//!
//! Properties: nothing panics; every error is an EC2 error with one of the codes the
//! reader documents; what a client writes reads back (dotted lists, filters and tags in
//! index order, page tokens, ids, a request signed with the right secret verifies and a
//! changed one does not); wildcards agree with an independent matcher.
//!
//! Every test is named `fuzz_…`; `PROPTEST_CASES` overrides the number of cases, so
//! `PROPTEST_CASES=1000000 cargo test -p nubo-frontend-ec2 --release fuzz_` is a long run.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use proptest::collection::vec;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::Ec2Error;
use crate::filters::{Filter, Filters, wildcard};
use crate::paging::Page;
use crate::params::Params;
use crate::sigv4::{ALGORITHM, Incoming};
use crate::{auth, ids, sigv2, sigv4};
use nubo_testkit::Tape;
use nubo_testkit::cases;

fn tape() -> impl Strategy<Value = Vec<u32>> {
    vec(any::<u32>(), 0..200)
}

/// The codes the readers answer a malformed request with.
const PARAM_CODES: &[&str] = &[
    "InvalidParameterValue",
    "MissingParameter",
    "InvalidPaginationToken",
    "IncompleteSignature",
    "InvalidInstanceID.Malformed",
];

fn check_code(e: &Ec2Error) -> Result<(), TestCaseError> {
    prop_assert!(PARAM_CODES.contains(&e.code.as_str()), "{}", e);
    prop_assert!(e.status.is_client_error(), "{}", e);
    Ok(())
}

/// The pairs of the query string, then of the form body, as the server reads them.
fn read_pairs(query: &[u8], body: &[u8]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query).into_owned().collect();
    pairs.extend(form_urlencoded::parse(body).into_owned());
    pairs
}

fn read_params(query: &[u8], body: &[u8]) -> Params {
    Params::from_pairs(read_pairs(query, body))
}

/// Every reader an action uses, on the parameters of `pairs`: no panic, documented codes
/// only; the request is refused when any pair sent holds a character XML cannot carry
/// (even one that a first pair of the same name hides).
fn read_everything(pairs: Vec<(String, String)>) -> Result<(), TestCaseError> {
    let refused = pairs.iter().any(|(k, v)| {
        nubo_template::xml_chars::find_non_xml_char(k).is_some()
            || nubo_template::xml_chars::find_non_xml_char(v).is_some()
    });
    let p = &Params::from_pairs(pairs);
    match p.check() {
        Ok(()) => prop_assert!(!refused),
        Err(e) => {
            prop_assert!(refused, "{}", e);
            check_code(&e)?;
        }
    }
    for r in [p.int("MaxCount").map(drop), p.bool("DryRun").map(drop)] {
        if let Err(e) = r {
            check_code(&e)?;
        }
    }
    let ids = p.list("InstanceId");
    if let Err(e) = ids::INSTANCE.known(&ids, |_| true, Ec2Error::missing) {
        prop_assert!(
            e.code == "InvalidInstanceID.Malformed"
                || e.code == "InvalidInstanceID.NotFound"
                || e.code == "MissingParameter",
            "{}",
            e
        );
    }
    match Filters::parse(p) {
        Ok(f) => {
            let _ = f.check(&|name| name.starts_with("tag:"));
            struct NoFacts;
            impl crate::filters::Facts for NoFacts {
                fn facts(&self, name: &str) -> Option<Vec<String>> {
                    Some(vec![name.to_owned(), String::new()])
                }
            }
            let _ = f.matches(&NoFacts);
        }
        Err(e) => check_code(&e)?,
    }
    if let Err(e) = p.tags("Tag") {
        check_code(&e)?;
    }
    if let Err(e) = Page::parse(p, 5, 1000) {
        check_code(&e)?;
    }
    if let Some(Err(e)) = sigv2::claim(p) {
        check_code(&e)?;
    }
    Ok(())
}

/// An index as a client might write it, and the number it stands for (when it is one).
fn index(t: &mut Tape) -> (String, Option<u32>) {
    match t.below(8) {
        0 => {
            let n = t.next();
            (n.to_string(), Some(n))
        }
        1 => (u32::MAX.to_string(), Some(u32::MAX)),
        2 => ("99999999".to_owned(), Some(99_999_999)),
        3 => ("4294967296".to_owned(), None),
        4 => ("99999999999999999999".to_owned(), None),
        5 => (
            t.pick(&["", "x", "-1", " 1", "1.5", "0x1"]).to_owned(),
            None,
        ),
        _ => {
            let n = t.next() % 20;
            (n.to_string(), Some(n))
        }
    }
}

/// `items` written as `prefix.N…` with distinct indexes drawn from the tape (some huge),
/// and what a reader in index order must see.
fn numbered<T: Clone>(t: &mut Tape, items: &[T]) -> Vec<(u32, T)> {
    let mut used = std::collections::BTreeSet::<u32>::new();
    let mut out = Vec::new();
    for item in items {
        let drawn = index(t).1.filter(|n| !used.contains(n));
        // Once the tape runs dry it draws the same number: take the next free one.
        let n = drawn.unwrap_or_else(|| used.last().map_or(0, |m| m.wrapping_add(1)));
        if !used.insert(n) {
            continue;
        }
        out.push((n, item.clone()));
    }
    out
}

/// Noise a reader must ignore: indexes that are no number or too large for one.
fn noise(t: &mut Tape, out: &mut Vec<(String, String)>) {
    for _ in 0..t.below(4) {
        let (bad, n) = index(t);
        // `Filter.1.5.Name` is member `5.Name` of filter 1: not noise.
        if n.is_some() || bad.contains('.') {
            continue;
        }
        let name = match t.below(5) {
            0 => format!("Filter.{bad}.Name"),
            1 => format!("Filter.{bad}.Value.1"),
            2 => format!("Tag.{bad}.Key"),
            3 => format!("InstanceId.{bad}"),
            _ => t
                .pick(&[
                    "Filter",
                    "Filter.",
                    "FilterX.1.Name",
                    "Tag.1",
                    "InstanceIdX.1",
                ])
                .to_owned(),
        };
        out.push((name, t.text()));
    }
}

/// Shuffles `pairs` with the tape (parameters come in any order).
fn shuffle<T>(t: &mut Tape, pairs: &mut [T]) {
    for i in (1..pairs.len()).rev() {
        let j = t.below(i + 1);
        pairs.swap(i, j);
    }
}

// ---------------------------------------------------------------- signatures

type HmacSha256 = Hmac<Sha256>;

/// The V4 signature of `req` for `claim`, computed from the canonical request.
fn sign_v4(req: &Incoming<'_>, claim: &sigv4::Claim, secret: &str) -> String {
    let canonical = sigv4::canonical_request(req, claim);
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{}/{}/{}/aws4_request\n{}",
        claim.amz_date,
        claim.scope_date,
        claim.region,
        claim.service,
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = sigv4::signing_key(secret, &claim.scope_date, &claim.region, &claim.service);
    let mut mac = HmacSha256::new_from_slice(&key).expect("any key");
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// An `Authorization` header as signers write it, and as they should not: fields in any
/// order, missing, repeated, empty, with odd separators and characters.
fn authorization(t: &mut Tape) -> String {
    let algorithm = t.pick(&[
        ALGORITHM,
        ALGORITHM,
        ALGORITHM,
        "AWS4-HMAC-SHA512",
        "AWS4-",
        "AWS4-HMAC-SHA256,",
    ]);
    let credential = match t.below(6) {
        0 => t.text(),
        1 => "AKID/20260101/us-east-1/ec2".to_owned(),
        2 => "AKID/20260101/us-east-1/ec2/aws4_request/extra".to_owned(),
        _ => format!(
            "{}/{}/{}/{}/{}",
            t.pick(&["AKID", "", "A/B"]),
            t.pick(&["20260101", "2026", ""]),
            t.pick(&["us-east-1", "", "é"]),
            t.pick(&["ec2", "s3", ""]),
            t.pick(&["aws4_request", "aws4_request", "x"])
        ),
    };
    let signed = match t.below(4) {
        0 => t.text(),
        _ => t
            .pick(&[
                "host;x-amz-date",
                "HOST;X-Amz-Date",
                "host",
                "x-amz-date",
                ";;",
                "host;x-amz-date;content-type",
            ])
            .to_owned(),
    };
    let signature = match t.below(4) {
        0 => t.text(),
        1 => "00".repeat(t.below(40)),
        _ => "ab".repeat(32),
    };
    let mut fields = vec![
        format!("Credential={credential}"),
        format!("SignedHeaders={signed}"),
        format!("Signature={signature}"),
    ];
    for _ in 0..t.below(3) {
        match t.below(4) {
            0 => {
                let i = t.below(fields.len());
                fields.remove(i);
            }
            1 => fields.push(
                t.pick(&["Credential=", "X=1", "=", "", "novalue", "Signature=zz"])
                    .to_owned(),
            ),
            2 => fields.push(t.text()),
            _ => {}
        }
    }
    shuffle(t, &mut fields);
    let sep = t.pick(&[", ", ",", " , ", ",,"]);
    format!(
        "{algorithm}{}{}",
        t.pick(&[" ", " ", "", "  "]),
        fields.join(sep)
    )
}

/// A presigned query string: the `X-Amz-*` parameters, some odd, among others.
fn presigned(t: &mut Tape) -> String {
    let mut pairs: Vec<String> = vec![
        format!(
            "X-Amz-Algorithm={}",
            t.pick(&[ALGORITHM, ALGORITHM, "AWS4-HMAC-SHA1", ""])
        ),
        format!(
            "X-Amz-Credential={}",
            t.pick(&[
                "AKID%2F20260101%2Fus-east-1%2Fec2%2Faws4_request",
                "AKID/20260101/us-east-1/ec2/aws4_request",
                "%ZZ",
                ""
            ])
        ),
        format!(
            "X-Amz-Date={}",
            t.pick(&["20260101T000000Z", "2026", "%00"])
        ),
        format!(
            "X-Amz-Expires={}",
            t.pick(&[
                "60",
                "0",
                "604800",
                "604801",
                "-1",
                "9223372036854775808",
                "x"
            ])
        ),
        format!(
            "X-Amz-SignedHeaders={}",
            t.pick(&["host", "host%3Bx-amz-date", ""])
        ),
        format!(
            "X-Amz-Signature={}",
            t.pick(&["ab", "", "zz"]).repeat(1 + t.below(40))
        ),
        "Action=DescribeRegions".to_owned(),
    ];
    for _ in 0..t.below(3) {
        if !pairs.is_empty() {
            let i = t.below(pairs.len());
            pairs.remove(i);
        }
    }
    for _ in 0..t.below(3) {
        pairs.push(t.text());
    }
    shuffle(t, &mut pairs);
    pairs.join("&")
}

/// A header map with `authorization` and `x-amz-date` set (when the values are valid
/// header values at all).
fn headers(auth: &str, date: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("ec2.example:4567"));
    if let Ok(v) = HeaderValue::from_str(auth) {
        h.insert("authorization", v);
    }
    if let Ok(v) = HeaderValue::from_str(date) {
        h.insert("x-amz-date", v);
    }
    h
}

/// What `claim` gave, checked: the only error is an incomplete signature, and what was
/// read is what the request carried.
fn check_claim(claim: Option<Result<sigv4::Claim, Ec2Error>>) -> Result<(), TestCaseError> {
    match claim {
        None => {}
        Some(Err(e)) => prop_assert_eq!(e.code.as_str(), "IncompleteSignature", "{}", e),
        Some(Ok(c)) => {
            prop_assert_eq!(c.signature.len(), 32);
            prop_assert!(c.signed_headers.iter().any(|h| h == "host"));
            prop_assert!(c.expires.is_none_or(|e| (1..=604_800).contains(&e)));
        }
    }
    Ok(())
}

/// An independent wildcard matcher (dynamic programming over both strings).
fn wildcard_reference(pattern: &str, text: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum P {
        Any,
        One,
        Lit(char),
    }
    let mut p = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        p.push(match c {
            '*' => P::Any,
            '?' => P::One,
            '\\' => P::Lit(chars.next().unwrap_or('\\')),
            c => P::Lit(c),
        });
    }
    let t: Vec<char> = text.chars().collect();
    // m[j]: p[..i] matches t[..j].
    let mut m = vec![false; t.len() + 1];
    m[0] = true;
    for tok in &p {
        let mut next = vec![false; t.len() + 1];
        for j in 0..=t.len() {
            next[j] = match tok {
                P::Any => m[j] || (j > 0 && next[j - 1]),
                P::One => j > 0 && m[j - 1],
                P::Lit(c) => j > 0 && m[j - 1] && t[j - 1] == *c,
            };
        }
        m = next;
    }
    m[t.len()]
}

#[test]
fn fuzz_ec2_wildcards_stay_fast_on_long_patterns() {
    // A 1 MiB pattern (the body limit) against a long value: linear per value, not
    // exponential.
    let pattern = "*a".repeat(512 * 1024);
    let text = format!("{}b", "a".repeat(255));
    assert!(!wildcard(&pattern, &text));
    let pattern = format!("{}*b", "*".repeat(1024 * 1024));
    assert!(wildcard(&pattern, &text));
}

proptest! {
    #![proptest_config(cases(4096))]

    #[test]
    fn fuzz_ec2_query_bytes(query in vec(any::<u8>(), 0..256), body in vec(any::<u8>(), 0..256)) {
        read_everything(read_pairs(&query, &body))?;
    }

    #[test]
    fn fuzz_ec2_query_dotted(words in tape()) {
        let mut t = Tape::new(&words);
        let mut text = String::new();
        for i in 0..t.below(12) {
            if i > 0 {
                text.push('&');
            }
            let (n, _) = index(&mut t);
            let (m, _) = index(&mut t);
            let name = t.pick(&[
                "Filter.{n}.Name", "Filter.{n}.Value.{m}", "Tag.{n}.Key", "Tag.{n}.Value",
                "InstanceId.{n}", "MaxResults", "NextToken", "MaxCount", "DryRun",
                "AWSAccessKeyId", "SignatureVersion", "SignatureMethod", "Signature",
            ]);
            text.push_str(&name.replace("{n}", &n).replace("{m}", &m));
            text.push('=');
            text.push_str(&t.text());
        }
        read_everything(read_pairs(text.as_bytes(), b""))?;
        read_everything(read_pairs(b"", text.as_bytes()))?;
    }

    /// Filters, tags and lists written with any distinct indexes, in any order, among
    /// noise, read back in index order.
    #[test]
    fn fuzz_ec2_dotted_round_trip(words in tape()) {
        let mut t = Tape::new(&words);
        let filters: Vec<Filter> = (0..t.below(5))
            .map(|_| {
                let name = format!("n{}", t.text());
                let values = (0..t.below(4)).map(|_| t.text()).collect();
                Filter { name, values }
            })
            .collect();
        let tags: Vec<(String, String)> = (0..t.below(4))
            .map(|i| (format!("k{i}{}", t.word(b"abc:/ ", 3)), t.text()))
            .collect();
        let ids: Vec<i32> = (0..t.below(5)).map(|_| (t.next() >> 1) as i32).collect();

        let mut pairs = Vec::new();
        // (index, name, values written) of each filter.
        let mut want_filters = Vec::new();
        for (n, f) in numbered(&mut t, &filters) {
            pairs.push((format!("Filter.{n}.Name"), f.name.clone()));
            let mut values = Vec::new();
            for (m, v) in numbered(&mut t, &f.values) {
                pairs.push((format!("Filter.{n}.Value.{m}"), v.clone()));
                values.push((m, v));
            }
            values.sort_by_key(|(m, _)| *m);
            let values: Vec<String> = values.into_iter().map(|(_, v)| v).collect();
            want_filters.push((n, f.name, values));
        }
        let tag_at = numbered(&mut t, &tags);
        for (n, (k, v)) in &tag_at {
            pairs.push((format!("Tag.{n}.Key"), k.clone()));
            pairs.push((format!("Tag.{n}.Value"), v.clone()));
        }
        let id_at = numbered(&mut t, &ids);
        for (n, id) in &id_at {
            pairs.push((format!("InstanceId.{n}"), ids::INSTANCE.id(*id)));
        }
        noise(&mut t, &mut pairs);
        shuffle(&mut t, &mut pairs);
        // As a client sends them: percent-encoded in a form body.
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        let p = read_params(b"", body.as_bytes());

        want_filters.sort_by_key(|(n, _, _)| *n);
        let got = Filters::parse(&p).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(got.0.len(), want_filters.len());
        for ((_, name, values), got) in want_filters.iter().zip(&got.0) {
            prop_assert_eq!(&got.name, name);
            prop_assert_eq!(&got.values, values);
        }
        let mut want_tags = tag_at.clone();
        want_tags.sort_by_key(|(n, _)| *n);
        let want_tags: Vec<_> = want_tags.into_iter().map(|(_, kv)| kv).collect();
        prop_assert_eq!(p.tags("Tag").map_err(|e| TestCaseError::fail(e.to_string()))?, want_tags);
        let mut want_ids = id_at.clone();
        want_ids.sort_by_key(|(n, _)| *n);
        let want_ids: Vec<i32> = want_ids.into_iter().map(|(_, id)| id).collect();
        let got_ids = ids::INSTANCE
            .known(&p.list("InstanceId"), |_| true, Ec2Error::missing)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(got_ids, want_ids);
    }

    #[test]
    fn fuzz_ec2_pages(token in ".{0,40}", max in any::<i64>(), total in 0..60usize, size in 1..20usize) {
        let p = Params::from_pairs([
            ("NextToken".to_owned(), token),
            ("MaxResults".to_owned(), max.to_string()),
        ]);
        match Page::parse(&p, 5, 1000) {
            Ok(page) => {
                let _ = page.cut((0..total).collect());
            }
            Err(e) => check_code(&e)?,
        }
        // Walking the pages a token at a time yields every item once, in order.
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut pairs = vec![("MaxResults".to_owned(), size.to_string())];
            if let Some(t) = &token {
                pairs.push(("NextToken".to_owned(), t.clone()));
            }
            let page = Page::parse(&Params::from_pairs(pairs), 1, 1000)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let (items, next) = page.cut((0..total).collect::<Vec<_>>());
            prop_assert!(items.len() <= size);
            seen.extend(items);
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        prop_assert_eq!(seen, (0..total).collect::<Vec<_>>());
    }

    #[test]
    fn fuzz_ec2_ids(
        text in ".{0,24}",
        digits in "[0-9]{1,18}",
        hex in "[0-9a-fA-F]{1,18}",
        id in 0..=i32::MAX,
    ) {
        for kind in [ids::INSTANCE, ids::IMAGE, ids::VOLUME, ids::SNAPSHOT, ids::ALLOCATION, ids::SECURITY_GROUP] {
            if let Err(e) = kind.parse(&text) {
                prop_assert!(e.code == kind.malformed || e.code == kind.unknown, "{}", e);
            }
            // Decimal: 8 or 17 digits, or Nubo's 9 or 10 without a leading zero, name an
            // object when the number is an id; 8 or 17 digits that are not name nothing.
            let written = format!("{}-{digits}", kind.prefix);
            let number = digits.parse::<i32>().ok();
            let aws_form = matches!(digits.len(), 8 | 17);
            let nubo_form = digits.len() > 8 && !digits.starts_with('0');
            match kind.parse(&written) {
                Ok(n) => prop_assert!((aws_form || nubo_form) && number == Some(n), "{}", written),
                Err(e) if aws_form => prop_assert_eq!(e.code.as_str(), kind.unknown),
                Err(e) => {
                    prop_assert_eq!(e.code.as_str(), kind.malformed);
                    prop_assert!(!nubo_form || number.is_none(), "{}", written);
                }
            }
            // Hex: AWS's form when 8 or 17 lowercase digits (naming nothing unless decimal).
            let written = format!("{}-{hex}", kind.prefix);
            let lower = !hex.bytes().any(|b| b.is_ascii_uppercase());
            let decimal = hex.bytes().all(|b| b.is_ascii_digit());
            if !decimal {
                let e = kind.parse(&written).expect_err("not a Nubo id");
                let want = if matches!(hex.len(), 8 | 17) && lower { kind.unknown } else { kind.malformed };
                prop_assert_eq!(e.code.as_str(), want, "{}", written);
            }
            prop_assert_eq!(kind.parse(&kind.id(id)).ok(), Some(id));
        }
    }

    #[test]
    fn fuzz_ec2_wildcards(pattern in "[ab*?\\\\]{0,12}", text in "[ab*?\\\\]{0,12}") {
        prop_assert_eq!(
            wildcard(&pattern, &text),
            wildcard_reference(&pattern, &text),
            "{:?} on {:?}", pattern, text
        );
    }

    #[test]
    fn fuzz_sigv4_authorization_header(words in tape(), date in "[0-9TZ]{0,20}") {
        let mut t = Tape::new(&words);
        let auth = authorization(&mut t);
        let h = headers(&auth, &date);
        let req = Incoming { method: "POST", path: "/", query: "", headers: &h, body: b"" };
        let claim = sigv4::claim(&req);
        if let Some(Ok(c)) = &claim {
            prop_assert!(!sigv4::verify(&req, c, "secret"), "a made-up signature verified");
        }
        check_claim(claim)?;
        // Any bytes at all in the header.
        let raw: Vec<u8> = (0..t.below(64)).map(|_| t.next() as u8).collect();
        let mut h = headers("", &date);
        if let Ok(v) = HeaderValue::from_bytes(&[b"AWS4-HMAC-SHA256 ".as_slice(), &raw].concat()) {
            h.insert("authorization", v);
        }
        let req = Incoming { method: "POST", path: "/", query: "", headers: &h, body: b"" };
        check_claim(sigv4::claim(&req))?;
    }

    #[test]
    fn fuzz_sigv4_presigned_query(words in tape()) {
        let mut t = Tape::new(&words);
        let query = presigned(&mut t);
        let h = HeaderMap::new();
        let req = Incoming { method: "GET", path: "/", query: &query, headers: &h, body: b"" };
        let claim = sigv4::claim(&req);
        if let Some(Ok(c)) = &claim {
            prop_assert!(!sigv4::verify(&req, c, "secret"));
            let _ = sigv4::canonical_request(&req, c);
        }
        check_claim(claim)?;
    }

    /// A request signed with the right secret verifies, whatever its path, query, headers
    /// and body; changing the body, the query or the secret fails it.
    #[test]
    fn fuzz_sigv4_round_trip(words in tape(), body in vec(any::<u8>(), 0..64)) {
        let mut t = Tape::new(&words);
        let path = format!("/{}", t.text());
        let query = presigned(&mut t).replace("X-Amz-", "P-");
        let secret = t.text();
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("ec2.example:4567"));
        h.insert("x-amz-date", HeaderValue::from_static("20260101T000000Z"));
        let extra = HeaderName::from_static("x-extra");
        for _ in 0..t.below(3) {
            if let Ok(v) = HeaderValue::from_str(&t.text()) {
                h.append(extra.clone(), v);
            }
        }
        let claim = sigv4::Claim {
            access_key_id: "AKID".to_owned(),
            scope_date: "20260101".to_owned(),
            region: "nubo".to_owned(),
            service: "ec2".to_owned(),
            amz_date: "20260101T000000Z".to_owned(),
            signed_headers: vec!["host".to_owned(), "x-amz-date".to_owned(), "x-extra".to_owned()],
            signature: Vec::new(),
            expires: None,
        };
        let req = Incoming { method: "POST", path: &path, query: &query, headers: &h, body: &body };
        let signature = sign_v4(&req, &claim, &secret);
        h.insert(
            "authorization",
            HeaderValue::from_str(&format!(
                "{ALGORITHM} Credential=AKID/20260101/nubo/ec2/aws4_request, \
                 SignedHeaders=host;x-amz-date;x-extra, Signature={signature}"
            ))
            .expect("header"),
        );
        let req = Incoming { method: "POST", path: &path, query: &query, headers: &h, body: &body };
        let read = sigv4::claim(&req)
            .ok_or_else(|| TestCaseError::fail("no claim"))?
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&read.access_key_id, "AKID");
        prop_assert_eq!(&read.signed_headers, &claim.signed_headers);
        prop_assert!(sigv4::verify(&req, &read, &secret), "{}", sigv4::canonical_request(&req, &read));
        let other_secret = format!("{secret}x");
        prop_assert!(!sigv4::verify(&req, &read, &other_secret));
        let other_body = [body.as_slice(), b"x"].concat();
        let changed = Incoming { body: &other_body, ..req };
        prop_assert!(!sigv4::verify(&changed, &read, &secret));
        let other_query = format!("{query}&Extra=1");
        let changed = Incoming { query: &other_query, ..req };
        prop_assert!(!sigv4::verify(&changed, &read, &secret));
    }

    #[test]
    fn fuzz_sigv2(words in tape()) {
        let mut t = Tape::new(&words);
        let secret = t.text();
        let mut pairs: Vec<(String, String)> = vec![
            ("AWSAccessKeyId".to_owned(), "AK".to_owned()),
            ("Action".to_owned(), "DescribeRegions".to_owned()),
            ("SignatureMethod".to_owned(), t.pick(&["HmacSHA256", "HmacSHA1"]).to_owned()),
            ("SignatureVersion".to_owned(), "2".to_owned()),
        ];
        for _ in 0..t.below(4) {
            pairs.push((t.text(), t.text()));
        }
        let p = Params::from_pairs(pairs.clone());
        let query = p
            .iter()
            .filter(|(k, _)| *k != "Signature")
            .map(|(k, v)| format!("{}={}", sigv4::encode(k), sigv4::encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let sts = format!("POST\nec2.example\n/\n{query}");
        let signature = match p.get("SignatureMethod") {
            Some("HmacSHA1") => {
                let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret.as_bytes()).expect("key");
                mac.update(sts.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
            _ => {
                let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("key");
                mac.update(sts.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
        };
        pairs.push(("Signature".to_owned(), base64::engine::general_purpose::STANDARD.encode(signature)));
        let p = Params::from_pairs(pairs);
        match sigv2::claim(&p) {
            Some(Ok(claim)) => {
                prop_assert!(sigv2::verify("POST", "ec2.example", "/", &p, &claim, &secret));
                prop_assert!(!sigv2::verify("GET", "ec2.example", "/", &p, &claim, &secret));
                let other_secret = format!("{secret}x");
                prop_assert!(!sigv2::verify("POST", "ec2.example", "/", &p, &claim, &other_secret));
            }
            // A parameter of the noise replaced SignatureVersion or SignatureMethod.
            Some(Err(e)) => check_code(&e)?,
            None => {}
        }
        // Any parameters at all.
        let p = Params::from_pairs((0..t.below(8)).map(|_| {
            let k = t.pick(&["AWSAccessKeyId", "SignatureVersion", "SignatureMethod", "Signature", "Timestamp"]);
            (k.to_owned(), t.text())
        }));
        if let Some(r) = sigv2::claim(&p) {
            match r {
                Ok(c) => prop_assert!(!sigv2::verify("POST", "h", "/", &p, &c, "s") || c.signature.len() == 32),
                Err(e) => check_code(&e)?,
            }
        }
    }

    #[test]
    fn fuzz_ec2_dates(text in ".{0,32}", epoch in -62_135_596_800i64..253_402_300_799) {
        let _ = auth::parse_amz_date(&text);
        let _ = auth::parse_iso8601(&text);
        let days = epoch.div_euclid(86_400);
        let secs = epoch.rem_euclid(86_400);
        let (y, m, d) = nubo_core::calendar::civil(days);
        let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
        let amz = format!("{y:04}{m:02}{d:02}T{hh:02}{mm:02}{ss:02}Z");
        prop_assert_eq!(auth::parse_amz_date(&amz), Some(epoch), "{}", amz);
        let iso = format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.123+00:00");
        prop_assert_eq!(auth::parse_iso8601(&iso), Some(epoch), "{}", iso);
        let iso = format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z");
        prop_assert_eq!(auth::parse_iso8601(&iso), Some(epoch), "{}", iso);
    }
}

/// What these generators draw from a [`Tape`] besides its own choices.
trait TapeExt {
    fn text(&mut self) -> String;
}

impl TapeExt for Tape<'_> {
    /// Text a client might send as a name or value: plain, percent-escaped, or odd.
    fn text(&mut self) -> String {
        let mut out = String::new();
        for _ in 0..self.below(5) {
            match self.below(5) {
                0 => out.push(self.char()),
                1 => out.push_str(self.pick(&[
                    "%",
                    "%2",
                    "%zz",
                    "%00",
                    "%0B",
                    "%EF%BF%BF",
                    "%C3%A9",
                    "%FF",
                    "+",
                    "&",
                    "=",
                    ".",
                    "..",
                    "*",
                    "?",
                    "\\",
                    "aws:",
                    "\u{b}",
                    "é",
                ])),
                _ => {
                    let n = self.below(8);
                    out.push_str(&self.word(b"abcXYZ019-_.:/ ", n));
                }
            }
        }
        out
    }
}
