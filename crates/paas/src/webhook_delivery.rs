//! Reading a delivery to an app's webhook ([`crate::webhooks`]): whose signature it carries
//! and whether the secret verifies it, in constant time (`hmac`'s `verify_slice`), then the
//! event, ref and commit of the push it describes.
//!
//! - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`, `X-GitHub-Event`;
//! - Gitea: `X-Gitea-Signature: <hex HMAC-SHA256 of the body>`, `X-Gitea-Event`;
//! - GitLab: `X-Gitlab-Token: <the secret>` (compared as the HMACs of both), `X-Gitlab-Event`;
//! - anything else: `X-Nubo-Signature-256: sha256=<hex HMAC-SHA256 of the body>`, over an
//!   empty body (the branch's head) or `{"ref": …, "commit": …}`.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The headers of a delivery that matter, as they came (any bytes).
#[derive(Debug, Clone, Default)]
pub struct HookHeaders {
    /// `X-Nubo-Signature-256`.
    pub nubo_signature: Option<Vec<u8>>,
    /// `X-Hub-Signature-256` (GitHub, also sent by Gitea).
    pub hub_signature: Option<Vec<u8>>,
    /// `X-Gitea-Signature`.
    pub gitea_signature: Option<Vec<u8>>,
    /// `X-Gitlab-Token`.
    pub gitlab_token: Option<Vec<u8>>,
    /// `X-GitHub-Event`.
    pub github_event: Option<Vec<u8>>,
    /// `X-Gitea-Event`.
    pub gitea_event: Option<Vec<u8>>,
    /// `X-Gitlab-Event`.
    pub gitlab_event: Option<Vec<u8>>,
}

/// Who signed a delivery, as its signature shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `X-Hub-Signature-256`.
    GitHub,
    /// `X-Gitea-Signature`.
    Gitea,
    /// `X-Gitlab-Token`.
    GitLab,
    /// `X-Nubo-Signature-256`.
    Plain,
}

impl Flavour {
    /// Its name in the app's log.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Flavour::GitHub => "GitHub",
            Flavour::Gitea => "Gitea",
            Flavour::GitLab => "GitLab",
            Flavour::Plain => "webhook",
        }
    }
}

/// The flavour whose signature header `headers` carries and the secret verifies; `None` for
/// no signature or a wrong one. The first header present of Nubo's, GitHub's, Gitea's and
/// GitLab's is the one checked.
pub fn verify(secret: &[u8], headers: &HookHeaders, body: &[u8]) -> Option<Flavour> {
    if let Some(sig) = &headers.nubo_signature {
        return hmac_ok(secret, body, sig.strip_prefix(b"sha256=")?).then_some(Flavour::Plain);
    }
    if let Some(sig) = &headers.hub_signature {
        return hmac_ok(secret, body, sig.strip_prefix(b"sha256=")?).then_some(Flavour::GitHub);
    }
    if let Some(sig) = &headers.gitea_signature {
        return hmac_ok(secret, body, sig).then_some(Flavour::Gitea);
    }
    if let Some(token) = &headers.gitlab_token {
        // The HMACs of both, compared in constant time, say whether they are equal.
        let mac = |data: &[u8]| {
            HmacSha256::new_from_slice(secret).map(|mut m| {
                m.update(data);
                m
            })
        };
        let (Ok(expected), Ok(given)) = (mac(secret), mac(token)) else {
            return None;
        };
        return given
            .verify_slice(&expected.finalize().into_bytes())
            .is_ok()
            .then_some(Flavour::GitLab);
    }
    None
}

/// Whether `hex_sig` is the hex HMAC-SHA256 of `body` under `secret`.
fn hmac_ok(secret: &[u8], body: &[u8], hex_sig: &[u8]) -> bool {
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// The hex HMAC-SHA256 of `body` under `secret` (what a sender puts after `sha256=`).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    match HmacSha256::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// The push a body describes.
#[derive(Debug, Default, Deserialize)]
struct Push {
    #[serde(rename = "ref")]
    reference: Option<String>,
    after: Option<String>,
    checkout_sha: Option<String>,
    commit: Option<String>,
    #[serde(default)]
    deleted: bool,
}

/// What a signed delivery asks for: to build `commit` (the branch's head when `None`), or
/// nothing (why).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Asked {
    Pong,
    Ignore(String),
    Build(Option<String>),
}

/// Reads a signed delivery: its event, and the ref and commit of a push.
pub(crate) fn read_delivery(
    flavour: Flavour,
    headers: &HookHeaders,
    body: &[u8],
    branch: &str,
) -> Result<Asked, String> {
    let event = [
        &headers.github_event,
        &headers.gitea_event,
        &headers.gitlab_event,
    ]
    .into_iter()
    .flatten()
    .next()
    .map(|e| String::from_utf8_lossy(e).trim().to_owned());
    match event.as_deref() {
        None | Some("push" | "Push Hook") => {}
        Some("ping") => return Ok(Asked::Pong),
        Some(other) => {
            return Ok(Asked::Ignore(format!(
                "event {:?} is not a push",
                other.chars().take(40).collect::<String>()
            )));
        }
    }
    let push: Push = if body.iter().all(u8::is_ascii_whitespace) && flavour == Flavour::Plain {
        Push::default()
    } else {
        serde_json::from_slice(body).map_err(|e| {
            format!("the body is not a push in JSON (send it as application/json): {e}")
        })?
    };
    if let Some(reference) = &push.reference {
        let name = reference.strip_prefix("refs/heads/").unwrap_or(
            // Only a plain delivery may name the branch without `refs/heads/`.
            if flavour == Flavour::Plain && !reference.starts_with("refs/") {
                reference
            } else {
                ""
            },
        );
        if name != branch {
            return Ok(Asked::Ignore(format!(
                "{:?} is not the branch followed ({branch})",
                reference.chars().take(100).collect::<String>()
            )));
        }
    } else if flavour != Flavour::Plain {
        return Err("the push names no ref".into());
    }
    let commit = match flavour {
        Flavour::GitLab => push.checkout_sha.or(push.after),
        Flavour::Plain => push.commit.or(push.after),
        Flavour::GitHub | Flavour::Gitea => push.after,
    };
    match commit {
        Some(c) if c.bytes().all(|b| b == b'0') && !c.is_empty() => {
            Ok(Asked::Ignore("the branch was deleted".into()))
        }
        _ if push.deleted => Ok(Asked::Ignore("the branch was deleted".into())),
        Some(c) if is_commit(&c) => Ok(Asked::Build(Some(c.to_ascii_lowercase()))),
        Some(_) => Err("the commit is not 40 or 64 hex digits".into()),
        None => Ok(Asked::Build(None)),
    }
}

/// Whether `s` is a full commit id (SHA-1 or SHA-256).
pub(crate) fn is_commit(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const BODY: &[u8] =
        br#"{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567"}"#;

    fn github(sig: &str) -> HookHeaders {
        HookHeaders {
            hub_signature: Some(sig.as_bytes().to_vec()),
            github_event: Some(b"push".to_vec()),
            ..HookHeaders::default()
        }
    }

    #[test]
    fn github_signatures() {
        let good = format!("sha256={}", sign(SECRET, BODY));
        assert_eq!(verify(SECRET, &github(&good), BODY), Some(Flavour::GitHub));
        let upper = format!("sha256={}", sign(SECRET, BODY).to_uppercase());
        assert_eq!(verify(SECRET, &github(&upper), BODY), Some(Flavour::GitHub));
        let other = format!("sha256={}", sign(b"another secret", BODY));
        assert_eq!(verify(SECRET, &github(&other), BODY), None);
        assert_eq!(verify(SECRET, &github(&good), b"{}"), None, "another body");
        assert_eq!(
            verify(SECRET, &github(&sign(SECRET, BODY)), BODY),
            None,
            "no prefix"
        );
        let sha1 = format!("sha1={}", sign(SECRET, BODY));
        assert_eq!(verify(SECRET, &github(&sha1), BODY), None, "wrong prefix");
        assert_eq!(
            verify(SECRET, &github(&good[..good.len() - 1]), BODY),
            None,
            "odd"
        );
        assert_eq!(
            verify(SECRET, &github(&good[..good.len() - 2]), BODY),
            None,
            "short"
        );
        assert_eq!(verify(SECRET, &github("sha256="), BODY), None, "empty");
        assert_eq!(
            verify(SECRET, &HookHeaders::default(), BODY),
            None,
            "missing"
        );
    }

    #[test]
    fn gitea_signatures() {
        let headers = |sig: String| HookHeaders {
            gitea_signature: Some(sig.into_bytes()),
            gitea_event: Some(b"push".to_vec()),
            ..HookHeaders::default()
        };
        let good = sign(SECRET, BODY);
        assert_eq!(
            verify(SECRET, &headers(good.clone()), BODY),
            Some(Flavour::Gitea)
        );
        assert_eq!(
            verify(SECRET, &headers(format!("sha256={good}")), BODY),
            None
        );
        assert_eq!(verify(SECRET, &headers(good[..63].to_owned()), BODY), None);
        assert_eq!(verify(SECRET, &headers(sign(b"x", BODY)), BODY), None);
        assert_eq!(verify(SECRET, &headers(String::new()), BODY), None);
    }

    #[test]
    fn gitlab_tokens() {
        let headers = |token: &[u8]| HookHeaders {
            gitlab_token: Some(token.to_vec()),
            gitlab_event: Some(b"Push Hook".to_vec()),
            ..HookHeaders::default()
        };
        assert_eq!(
            verify(SECRET, &headers(SECRET), BODY),
            Some(Flavour::GitLab)
        );
        assert_eq!(verify(SECRET, &headers(&SECRET[..63]), BODY), None);
        assert_eq!(verify(SECRET, &headers(b""), BODY), None);
        let mut wrong = SECRET.to_vec();
        wrong[0] = b'1';
        assert_eq!(verify(SECRET, &headers(&wrong), BODY), None);
    }

    #[test]
    fn plain_signatures() {
        let headers = |sig: String| HookHeaders {
            nubo_signature: Some(sig.into_bytes()),
            ..HookHeaders::default()
        };
        let good = format!("sha256={}", sign(SECRET, b""));
        assert_eq!(
            verify(SECRET, &headers(good.clone()), b""),
            Some(Flavour::Plain)
        );
        assert_eq!(verify(SECRET, &headers(good.clone()), b"x"), None);
        assert_eq!(
            verify(SECRET, &headers(sign(SECRET, b"")), b""),
            None,
            "no prefix"
        );
        assert_eq!(verify(SECRET, &headers(good[..20].to_owned()), b""), None);
        // The first header present is the one checked: a good GitLab token beside a bad
        // Nubo signature is refused.
        let both = HookHeaders {
            nubo_signature: Some(b"sha256=00".to_vec()),
            gitlab_token: Some(SECRET.to_vec()),
            ..HookHeaders::default()
        };
        assert_eq!(verify(SECRET, &both, b""), None);
    }

    #[test]
    fn deliveries_are_read() {
        let gh = github("");
        let commit = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            read_delivery(Flavour::GitHub, &gh, BODY, "main").ok(),
            Some(Asked::Build(Some(commit.into())))
        );
        assert!(matches!(
            read_delivery(Flavour::GitHub, &gh, BODY, "prod"),
            Ok(Asked::Ignore(_))
        ));
        let tag = br#"{"ref":"refs/tags/main","after":"0123456789abcdef0123456789abcdef01234567"}"#;
        assert!(matches!(
            read_delivery(Flavour::GitHub, &gh, tag, "main"),
            Ok(Asked::Ignore(_))
        ));
        let deleted =
            br#"{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000"}"#;
        assert!(matches!(
            read_delivery(Flavour::GitHub, &gh, deleted, "main"),
            Ok(Asked::Ignore(_))
        ));
        let ping = HookHeaders {
            github_event: Some(b"ping".to_vec()),
            ..HookHeaders::default()
        };
        assert_eq!(
            read_delivery(Flavour::GitHub, &ping, b"{}", "main").ok(),
            Some(Asked::Pong)
        );
        assert!(read_delivery(Flavour::GitHub, &gh, b"{nope", "main").is_err());
        assert!(read_delivery(Flavour::GitHub, &gh, b"{}", "main").is_err());
        let bad_commit = br#"{"ref":"refs/heads/main","after":"$(reboot)"}"#;
        assert!(read_delivery(Flavour::GitHub, &gh, bad_commit, "main").is_err());
        let gl = HookHeaders {
            gitlab_event: Some(b"Push Hook".to_vec()),
            ..HookHeaders::default()
        };
        let gitlab = br#"{"ref":"refs/heads/main","after":"1111111111111111111111111111111111111111","checkout_sha":"2222222222222222222222222222222222222222"}"#;
        assert_eq!(
            read_delivery(Flavour::GitLab, &gl, gitlab, "main").ok(),
            Some(Asked::Build(Some("2".repeat(40))))
        );
        let plain = HookHeaders::default();
        assert_eq!(
            read_delivery(Flavour::Plain, &plain, b"", "main").ok(),
            Some(Asked::Build(None))
        );
        assert_eq!(
            read_delivery(Flavour::Plain, &plain, br#"{"ref":"main"}"#, "main").ok(),
            Some(Asked::Build(None))
        );
        assert!(matches!(
            read_delivery(Flavour::Plain, &plain, br#"{"ref":"dev"}"#, "main"),
            Ok(Asked::Ignore(_))
        ));
    }

    fn bytes() -> impl Strategy<Value = Option<Vec<u8>>> {
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..80))
    }

    proptest! {
        #![proptest_config(nubo_testkit::cases(256))]

        #[test]
        fn only_a_push_of_the_branch_with_a_full_commit_is_built(
            reference in "(refs/heads/|refs/tags/|)(main|dev|ma.n|)",
            after in "[0-9a-fA-Fxz$ ]{0,70}",
        ) {
            let body = serde_json::json!({"ref": reference, "after": after}).to_string();
            let asked = read_delivery(Flavour::GitHub, &github(""), body.as_bytes(), "main");
            if let Ok(Asked::Build(commit)) = &asked {
                prop_assert_eq!(reference.as_str(), "refs/heads/main");
                prop_assert!(commit.as_deref().is_some_and(is_commit));
            }
        }

        #[test]
        fn arbitrary_deliveries_never_panic_and_are_refused_unless_signed(
            nubo in bytes(), hub in bytes(), gitea in bytes(), gitlab in bytes(),
            event in bytes(), body in proptest::collection::vec(any::<u8>(), 0..300),
            signed in any::<bool>(),
        ) {
            let mut headers = HookHeaders {
                nubo_signature: nubo,
                hub_signature: hub,
                gitea_signature: gitea,
                gitlab_token: gitlab,
                github_event: event,
                ..HookHeaders::default()
            };
            if signed {
                headers.nubo_signature = Some(format!("sha256={}", sign(SECRET, &body)).into_bytes());
            }
            let verdict = verify(SECRET, &headers, &body);
            if signed {
                prop_assert_eq!(verdict, Some(Flavour::Plain));
            } else {
                // Random bytes are a correct signature only by a 2^-256 chance; only the
                // secret itself passes as a GitLab token.
                let gitlab_ok = headers.nubo_signature.is_none()
                    && headers.hub_signature.is_none()
                    && headers.gitea_signature.is_none()
                    && headers.gitlab_token.as_deref() == Some(SECRET);
                prop_assert_eq!(verdict.is_some(), gitlab_ok);
            }
            // Whatever a signed body holds, reading it answers rather than panics.
            for flavour in [Flavour::GitHub, Flavour::Gitea, Flavour::GitLab, Flavour::Plain] {
                let _ = read_delivery(flavour, &headers, &body, "main");
            }
        }
    }
}
