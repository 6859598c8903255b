//! Tag sets: the sorted key/value pairs on a sample, interned behind an `Arc` with a cached hash so that
//! per-series lookups on the hot path hash one `u64` and usually compare one pointer.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

#[derive(Clone)]
pub struct TagSet(Arc<Inner>);

struct Inner {
    hash: u64,
    pairs: Box<[(Box<str>, Box<str>)]>,
}

impl TagSet {
    /// A tag set from pairs in any order; a later duplicate key replaces an earlier one.
    pub fn new<K: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let mut v: Vec<(Box<str>, Box<str>)> = Vec::new();
        for (k, val) in pairs {
            let (k, val) = (k.as_ref(), val.as_ref());
            match v.iter_mut().find(|(ek, _)| &**ek == k) {
                Some(e) => e.1 = val.into(),
                None => v.push((k.into(), val.into())),
            }
        }
        v.sort_by(|a, b| a.0.cmp(&b.0));
        let mut h = std::collections::hash_map::DefaultHasher::new();
        v.hash(&mut h);
        TagSet(Arc::new(Inner {
            hash: h.finish(),
            pairs: v.into_boxed_slice(),
        }))
    }

    pub fn empty() -> Self {
        Self::new(std::iter::empty::<(&str, &str)>())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .pairs
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .map(|i| &*self.0.pairs[i].1)
    }

    /// Sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.pairs.iter().map(|(k, v)| (&**k, &**v))
    }

    pub fn len(&self) -> usize {
        self.0.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.pairs.is_empty()
    }

    /// This set with more pairs added (replacing keys that exist).
    pub fn with<K: AsRef<str>, V: AsRef<str>>(
        &self,
        more: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let own = self.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let more = more
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()));
        TagSet::new(own.chain(more))
    }

    /// Whether both are the same allocation (equal, and found without comparing pairs).
    pub(crate) fn same(&self, other: &TagSet) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// True when every pair of `selector` is in this set (how k6 sub-metrics select samples).
    pub fn contains_all(&self, selector: &TagSet) -> bool {
        selector.iter().all(|(k, v)| self.get(k) == Some(v))
    }
}

impl PartialEq for TagSet {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.hash == other.0.hash && self.0.pairs == other.0.pairs)
    }
}
impl Eq for TagSet {}

impl Hash for TagSet {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.hash)
    }
}

impl std::fmt::Debug for TagSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_does_not_matter_and_selectors_match_subsets() {
        let a = TagSet::new([("status", "200"), ("method", "GET")]);
        let b = TagSet::new([("method", "GET"), ("status", "200")]);
        assert_eq!(a, b);
        assert!(a.contains_all(&TagSet::new([("status", "200")])));
        assert!(!a.contains_all(&TagSet::new([("status", "500")])));
        assert_eq!(a.with([("status", "404")]).get("status"), Some("404"));
    }
}

/// Past this many distinct tag sets on one thread (scripts with generated tag values), the
/// interner starts over.
const INTERNED_LIMIT: usize = 4096;

thread_local! {
    /// The tag sets of this thread (a worker): equal sets are one allocation, shared by its VUs,
    /// its recorder and its aggregator's groups, so comparing them is one pointer comparison.
    static INTERNED: std::cell::RefCell<std::collections::HashSet<TagSet>> =
        std::cell::RefCell::default();
}

/// This thread's shared copy of `t` (equal to it): record with it rather than with a copy of
/// one's own that is used again and again.
pub fn intern(t: TagSet) -> TagSet {
    INTERNED.with(|set| {
        let mut set = set.borrow_mut();
        if let Some(existing) = set.get(&t) {
            return existing.clone();
        }
        if set.len() >= INTERNED_LIMIT {
            set.clear();
        }
        set.insert(t.clone());
        t
    })
}
