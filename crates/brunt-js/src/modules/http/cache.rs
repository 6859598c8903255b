//! The requests a VU sent before, by what they were built from: a load test sends the same
//! method, URL, headers and body over and over, and finding the request built for them the last
//! time costs one comparison of bytes instead of parsing the URL and headers, copying the body and
//! serializing the request again. The script's tags come with it, with the tag set of its samples
//! worked out once per base tag set.

use brunt_http::Request;
use brunt_metrics::TagSet;
use std::cell::RefCell;
use std::rc::Rc;

/// Distinct requests kept per VU.
const ENTRIES: usize = 16;

/// Requests whose description is longer (a large body) are built each time: kept, they would
/// cost every VU their size twice over.
const MAX_KEY: usize = 16 * 1024;

/// A request's description as bytes, the cache's key: each part with its length, so that no two
/// descriptions give the same bytes.
#[derive(Default)]
pub(super) struct Key(Vec<u8>);

impl Key {
    pub(super) fn clear(&mut self) {
        self.0.clear();
    }

    pub(super) fn push(&mut self, part: &[u8]) {
        self.0.extend_from_slice(&(part.len() as u32).to_le_bytes());
        self.0.extend_from_slice(part);
    }
}

/// The script's tags of a request, and the tag set of its samples for the last base tag set
/// (the VU's tags change with groups, not with each request).
#[derive(Default)]
pub(super) struct ScriptTags {
    pub pairs: Vec<(String, String)>,
    last: RefCell<Option<(TagSet, TagSet)>>,
}

impl ScriptTags {
    pub(super) fn new(pairs: Vec<(String, String)>) -> Self {
        ScriptTags {
            pairs,
            last: RefCell::default(),
        }
    }

    /// `base` with these tags (interned).
    pub(super) fn on(&self, base: TagSet) -> TagSet {
        if self.pairs.is_empty() {
            return base;
        }
        if let Some((b, all)) = &*self.last.borrow() {
            if *b == base {
                return all.clone();
            }
        }
        let all = crate::host::intern(
            base.with(self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        );
        *self.last.borrow_mut() = Some((base, all.clone()));
        all
    }
}

struct Entry {
    key: Box<[u8]>,
    req: Rc<Request>,
    tags: Rc<ScriptTags>,
}

/// See the module doc.
#[derive(Default)]
pub(super) struct RequestCache {
    entries: Vec<Entry>,
    next: usize,
}

impl RequestCache {
    pub(super) fn get(&self, key: &Key) -> Option<(Rc<Request>, Rc<ScriptTags>)> {
        self.entries
            .iter()
            .find(|e| *e.key == *key.0)
            .map(|e| (e.req.clone(), e.tags.clone()))
    }

    pub(super) fn put(&mut self, key: &Key, req: Rc<Request>, tags: Rc<ScriptTags>) {
        if key.0.len() > MAX_KEY {
            return;
        }
        let e = Entry {
            key: key.0.as_slice().into(),
            req,
            tags,
        };
        if self.entries.len() < ENTRIES {
            self.entries.push(e);
        } else {
            self.entries[self.next] = e;
            self.next = (self.next + 1) % ENTRIES;
        }
    }
}
