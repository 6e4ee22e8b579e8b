//! `MaxResults` / `NextToken`: a page of a sorted listing, and an opaque token (the offset
//! of the next page, base64) to get the next one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{Ec2Error, Ec2Result};
use crate::params::Params;

const PREFIX: &str = "nubo:";

/// The page a request asks for.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    offset: usize,
    size: Option<usize>,
}

impl Page {
    /// Reads `MaxResults` (within `min..=max`) and `NextToken`.
    pub fn parse(p: &Params, min: i64, max: i64) -> Ec2Result<Page> {
        let size = match p.int("MaxResults")? {
            Some(n) if n < min || n > max => {
                return Err(Ec2Error::client(
                    "InvalidParameterValue",
                    format!("MaxResults must be between {min} and {max}, not {n}"),
                ));
            }
            Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            None => None,
        };
        let offset = match p.get("NextToken").filter(|t| !t.is_empty()) {
            Some(token) => decode(token).ok_or_else(|| {
                Ec2Error::client(
                    "InvalidPaginationToken",
                    format!("Invalid pagination token '{token}'"),
                )
            })?,
            None => 0,
        };
        Ok(Page { offset, size })
    }

    /// Whether a page size was asked for.
    pub fn limited(&self) -> bool {
        self.size.is_some()
    }

    /// This page of `items`, and the token of the next page if there is one.
    pub fn cut<T>(&self, items: Vec<T>) -> (Vec<T>, Option<String>) {
        let total = items.len();
        let page: Vec<T> = match self.size {
            Some(n) => items.into_iter().skip(self.offset).take(n).collect(),
            None => items.into_iter().skip(self.offset).collect(),
        };
        let end = self.offset + page.len();
        let next = (self.size.is_some() && end < total).then(|| encode(end));
        (page, next)
    }
}

fn encode(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{PREFIX}{offset}"))
}

fn decode(token: &str) -> Option<usize> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    text.strip_prefix(PREFIX)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn pages_walk_the_whole_list() {
        let mut token = None::<String>;
        let mut seen = Vec::new();
        loop {
            let mut p = vec![("MaxResults", "2")];
            if let Some(t) = &token {
                p.push(("NextToken", t));
            }
            let page = Page::parse(&params(&p), 1, 10).expect("page");
            let (items, next) = page.cut((1..=5).collect::<Vec<i32>>());
            seen.extend(items);
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn bad_tokens_and_sizes_are_refused() {
        assert_eq!(
            Page::parse(&params(&[("NextToken", "garbage")]), 1, 10)
                .expect_err("token")
                .code,
            "InvalidPaginationToken"
        );
        assert!(Page::parse(&params(&[("MaxResults", "11")]), 1, 10).is_err());
    }
}
