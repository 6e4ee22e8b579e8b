//! The session cache: sessions verified recently are trusted for a while without hashing
//! the secret again. Any change to a user or a group empties it, so a new password, a
//! disabled user or a group change takes effect on the next call.

use std::collections::HashMap;
use std::sync::Mutex;

use super::Caller;
use super::session::Verified;

/// Entries beyond which the cache starts over, so that it cannot grow without bound.
const MAX_ENTRIES: usize = 10_000;

/// Verified sessions keyed by the session string.
#[derive(Debug, Default)]
pub struct SessionCache {
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    /// Bumped by every [`SessionCache::clear`]: a verification made against an older state
    /// is not kept.
    generation: u64,
    map: HashMap<String, Verified>,
}

impl SessionCache {
    /// The caller of `session` if it was verified and is still valid at `now`.
    pub fn get(&self, session: &str, now: i64) -> Option<Caller> {
        let entries = self.inner.lock().ok()?;
        let hit = entries.map.get(session)?;
        (hit.valid_until > now).then(|| hit.caller.clone())
    }

    /// The current generation; pass it to [`SessionCache::put`] with a verification made
    /// after reading it.
    pub fn generation(&self) -> u64 {
        self.inner.lock().map(|e| e.generation).unwrap_or(u64::MAX)
    }

    /// Remembers a session verified during `generation`, unless the cache was cleared since.
    pub fn put(&self, session: &str, verified: Verified, generation: u64) {
        if let Ok(mut entries) = self.inner.lock() {
            if entries.generation != generation {
                return;
            }
            if entries.map.len() >= MAX_ENTRIES {
                entries.map.clear();
            }
            entries.map.insert(session.to_string(), verified);
        }
    }

    /// Forgets every session.
    pub fn clear(&self) {
        if let Ok(mut entries) = self.inner.lock() {
            entries.generation = entries.generation.wrapping_add(1);
            entries.map.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(uid: i32, valid_until: i64) -> Verified {
        Verified {
            caller: Caller {
                uid,
                gid: 1,
                uname: "u".into(),
                gname: "users".into(),
                groups: [1].into_iter().collect(),
            },
            valid_until,
        }
    }

    #[test]
    fn entries_expire_and_a_clear_drops_verifications_made_before_it() {
        let cache = SessionCache::default();
        let g = cache.generation();
        cache.put("u:p", verified(5, 100), g);
        assert_eq!(cache.get("u:p", 99).map(|c| c.uid), Some(5));
        assert!(cache.get("u:p", 100).is_none());
        let stale = cache.generation();
        cache.clear();
        assert!(cache.get("u:p", 0).is_none());
        cache.put("u:p", verified(5, 100), stale);
        assert!(
            cache.get("u:p", 0).is_none(),
            "a verification older than the clear is dropped"
        );
    }
}
