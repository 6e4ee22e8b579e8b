//! The leases of an address range, kept as runs: consecutive addresses held by one owner
//! are one entry. A reservation of 65,536 addresses is one run, not 65,536 entries, so the
//! memory of a network, its stored JSON and its `vn.info` grow with the number of holders,
//! not of addresses; a 16M-address range costs nothing until leases are taken.
//!
//! Stored as a JSON object `{"<first index>": {"owner": .., "size": n}}` with `size` left
//! out when it is 1: exactly the older one-entry-per-lease form, which therefore still
//! loads (adjacent entries of one owner are joined into runs as they are read, without
//! holding the old entries in memory).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::address_range::{Lease, LeaseOwner};

/// Consecutive leases held by one owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseRun {
    /// First index.
    pub start: u32,
    /// How many addresses (at least 1).
    pub size: u32,
    /// Who holds them.
    pub owner: LeaseOwner,
}

impl LeaseRun {
    /// One past the last index.
    pub fn end(&self) -> u64 {
        u64::from(self.start) + u64::from(self.size)
    }

    /// The indexes of the run.
    pub fn indexes(&self) -> impl Iterator<Item = u32> + use<> {
        let (start, size) = (self.start, self.size);
        (0..size).map(move |k| start + k)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    size: u32,
    owner: LeaseOwner,
}

/// The leases taken from one address range, by index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leases {
    /// Runs by first index; they never overlap, and adjacent runs have different owners.
    runs: BTreeMap<u32, Run>,
    /// Addresses leased (the sum of the runs' sizes).
    used: u64,
}

/// The largest index a lease can have, plus one.
const INDEX_END: u64 = 1 << 32;

impl Leases {
    /// No leases.
    pub fn new() -> Self {
        Self::default()
    }

    /// Addresses leased.
    pub fn len(&self) -> usize {
        usize::try_from(self.used).unwrap_or(usize::MAX)
    }

    /// Whether no address is leased.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Number of runs: what memory, the stored JSON and the XML grow with.
    pub fn run_count(&self) -> usize {
        self.runs.len()
    }

    /// The runs, by first index.
    pub fn runs(&self) -> impl DoubleEndedIterator<Item = LeaseRun> + '_ {
        self.runs.iter().map(|(start, r)| LeaseRun {
            start: *start,
            size: r.size,
            owner: r.owner,
        })
    }

    /// Every lease, address by address (as many items as addresses leased).
    pub fn iter(&self) -> impl Iterator<Item = (u32, Lease)> + '_ {
        self.runs()
            .flat_map(|r| r.indexes().map(move |i| (i, Lease { owner: r.owner })))
    }

    /// The run holding `index`.
    fn run_at(&self, index: u32) -> Option<LeaseRun> {
        let (start, run) = self.runs.range(..=index).next_back()?;
        let found = LeaseRun {
            start: *start,
            size: run.size,
            owner: run.owner,
        };
        (u64::from(index) < found.end()).then_some(found)
    }

    /// The lease of address `index`, if taken.
    pub fn get(&self, index: &u32) -> Option<Lease> {
        self.run_at(*index).map(|r| Lease { owner: r.owner })
    }

    /// Whether address `index` is taken.
    pub fn contains_key(&self, index: &u32) -> bool {
        self.run_at(*index).is_some()
    }

    /// One past the highest index taken (0 when none is).
    pub fn end(&self) -> u64 {
        self.runs().next_back().map_or(0, |r| r.end())
    }

    /// Whether no address of `start .. start + size` is taken.
    pub fn is_free(&self, start: u32, size: u32) -> bool {
        let end = u64::from(start) + u64::from(size);
        size == 0
            || (self.run_at(start).is_none()
                && self
                    .runs
                    .range(start..)
                    .next()
                    .is_none_or(|(s, _)| u64::from(*s) >= end))
    }

    /// The first index of `size` consecutive free addresses below `limit`.
    pub fn free_block(&self, size: u32, limit: u32) -> Option<u32> {
        if size == 0 || size > limit {
            return None;
        }
        let mut start = 0u64;
        for run in self.runs() {
            if u64::from(run.start) >= start + u64::from(size) {
                break;
            }
            start = start.max(run.end());
        }
        (start + u64::from(size) <= u64::from(limit))
            .then(|| u32::try_from(start).ok())
            .flatten()
    }

    /// Gives `start .. start + size` to `owner` if every address is free; false (nothing
    /// taken) otherwise.
    pub fn take(&mut self, start: u32, size: u32, owner: LeaseOwner) -> bool {
        if size == 0 || u64::from(start) + u64::from(size) >= INDEX_END {
            return false;
        }
        if !self.is_free(start, size) {
            return false;
        }
        self.insert_free(start, size, owner);
        true
    }

    /// Adds a run over free addresses, joining it with its neighbours of the same owner.
    fn insert_free(&mut self, start: u32, size: u32, owner: LeaseOwner) {
        self.used += u64::from(size);
        let mut size = size;
        let end = start + size;
        if let Some(next) = self.runs.get(&end).copied()
            && next.owner == owner
        {
            self.runs.remove(&end);
            size += next.size;
        }
        if let Some((prev_start, prev)) = self.runs.range_mut(..start).next_back()
            && prev.owner == owner
            && u64::from(*prev_start) + u64::from(prev.size) == u64::from(start)
        {
            prev.size += size;
            return;
        }
        self.runs.insert(start, Run { size, owner });
    }

    /// Frees `from .. from + len`, which lies inside `run`.
    fn cut(&mut self, run: LeaseRun, from: u32, len: u32) {
        if len == 0 {
            return;
        }
        self.runs.remove(&run.start);
        if from > run.start {
            self.runs.insert(
                run.start,
                Run {
                    size: from - run.start,
                    owner: run.owner,
                },
            );
        }
        let cut_end = u64::from(from) + u64::from(len);
        if let (Ok(rest_start), Ok(rest)) = (
            u32::try_from(cut_end),
            u32::try_from(run.end().saturating_sub(cut_end)),
        ) && rest > 0
        {
            self.runs.insert(
                rest_start,
                Run {
                    size: rest,
                    owner: run.owner,
                },
            );
        }
        self.used = self.used.saturating_sub(u64::from(len));
    }

    /// Frees address `index`; returns its lease.
    pub fn remove(&mut self, index: &u32) -> Option<Lease> {
        let run = self.run_at(*index)?;
        self.cut(run, *index, 1);
        Some(Lease { owner: run.owner })
    }

    /// Frees every address of `owner` inside `start .. start + size`; returns how many.
    pub fn free_owned(&mut self, owner: LeaseOwner, start: u32, size: u32) -> usize {
        let end = u64::from(start) + u64::from(size);
        let first = self.run_at(start).map_or(start, |r| r.start);
        let hits: Vec<LeaseRun> = self
            .runs
            .range(first..)
            .map(|(s, r)| LeaseRun {
                start: *s,
                size: r.size,
                owner: r.owner,
            })
            .take_while(|r| u64::from(r.start) < end)
            .filter(|r| r.owner == owner)
            .collect();
        let mut freed = 0u64;
        for run in hits {
            let from = run.start.max(start);
            let to = run.end().min(end);
            let len = u32::try_from(to - u64::from(from)).unwrap_or(0);
            self.cut(run, from, len);
            freed += u64::from(len);
        }
        usize::try_from(freed).unwrap_or(usize::MAX)
    }

    /// Adds a stored run: one that would overlap what is already read, or run past the
    /// index space, cannot exist and is dropped.
    fn load(&mut self, start: u32, size: u32, owner: LeaseOwner) {
        if size == 0 || u64::from(start) + u64::from(size) >= INDEX_END {
            return;
        }
        // Old bodies hold one entry per lease, in index order: extend the last run.
        if let Some(mut last) = self.runs.last_entry() {
            let last_end = u64::from(*last.key()) + u64::from(last.get().size);
            if last_end == u64::from(start) && last.get().owner == owner {
                last.get_mut().size += size;
                self.used += u64::from(size);
                return;
            }
        }
        if self.is_free(start, size) {
            self.insert_free(start, size, owner);
        }
    }
}

/// How a run is stored.
#[derive(Serialize, Deserialize)]
struct StoredRun {
    owner: LeaseOwner,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    size: u32,
}

fn one() -> u32 {
    1
}

fn is_one(size: &u32) -> bool {
    *size == 1
}

impl Serialize for Leases {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.runs.iter().map(|(start, r)| {
            (
                start,
                StoredRun {
                    owner: r.owner,
                    size: r.size,
                },
            )
        }))
    }
}

struct LeasesVisitor;

impl<'de> Visitor<'de> for LeasesVisitor {
    type Value = Leases;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of lease index to lease")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Leases, A::Error> {
        let mut leases = Leases::new();
        while let Some((start, run)) = map.next_entry::<u32, StoredRun>()? {
            leases.load(start, run.size, run.owner);
        }
        Ok(leases)
    }
}

impl<'de> Deserialize<'de> for Leases {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(LeasesVisitor)
    }
}

#[cfg(test)]
#[path = "leases_tests.rs"]
mod tests;
