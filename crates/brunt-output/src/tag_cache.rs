//! Per-tag-set text that outputs write with every sample (a JSON `tags` object, a CSV row's tag
//! columns), rendered once per tag set: tag sets repeat across samples, so this is most of the
//! formatting cost saved.

use brunt_metrics::TagSet;
use std::collections::HashMap;

/// Beyond this many distinct tag sets (e.g. a `url` tag per request) the cache starts over
/// rather than growing without bound.
const LIMIT: usize = 16 * 1024;

#[derive(Default)]
pub(crate) struct TagCache(HashMap<TagSet, String>);

impl TagCache {
    /// The text for `tags`, rendered by `render` the first time.
    pub(crate) fn get(&mut self, tags: &TagSet, render: impl FnOnce(&TagSet) -> String) -> &str {
        if !self.0.contains_key(tags) {
            if self.0.len() >= LIMIT {
                self.0.clear();
            }
            self.0.insert(tags.clone(), render(tags));
        }
        &self.0[tags]
    }
}
