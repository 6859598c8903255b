//! The in-memory orders store behind `/api/orders`: bounded, so a long load
//! test that creates orders cannot grow the target without limit.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;

/// How many of the most recent orders are kept; older ones answer 404.
pub(crate) const ORDERS_KEPT: usize = 100_000;
/// How many bytes of orders are kept at most, whatever their count: bodies
/// may be large, and the target must stay small beside the system under test.
pub(crate) const ORDER_BYTES_KEPT: usize = 64 * 1024 * 1024;

/// Orders numbered 1, 2, 3, ...; only the most recent are kept, up to a
/// count and a total size (the newest is always kept).
#[derive(Debug)]
pub(crate) struct Orders {
    inner: Mutex<Window>,
    max_count: usize,
    max_bytes: usize,
}

#[derive(Debug)]
struct Window {
    /// Number of the order at the front of `docs`.
    first: u64,
    /// Serialized order documents, ready to send.
    docs: VecDeque<Bytes>,
    /// Total length of `docs`.
    bytes: usize,
}

impl Orders {
    pub(crate) fn new(max_count: usize, max_bytes: usize) -> Self {
        Orders {
            inner: Mutex::new(Window {
                first: 1,
                docs: VecDeque::new(),
                bytes: 0,
            }),
            max_count,
            max_bytes,
        }
    }

    /// Assigns the next order number, stores the document that `render` makes
    /// for it, and returns that document.
    pub(crate) fn insert(&self, render: impl FnOnce(u64) -> Bytes) -> Bytes {
        let mut window = self.lock();
        let id = window.first + window.docs.len() as u64;
        let doc = render(id);
        window.bytes += doc.len();
        window.docs.push_back(doc.clone());
        while window.docs.len() > 1
            && (window.docs.len() > self.max_count || window.bytes > self.max_bytes)
        {
            if let Some(evicted) = window.docs.pop_front() {
                window.bytes -= evicted.len();
                window.first += 1;
            }
        }
        doc
    }

    /// The stored document of order `id`, unless it is unknown or evicted.
    pub(crate) fn get(&self, id: u64) -> Option<Bytes> {
        let window = self.lock();
        let index = usize::try_from(id.checked_sub(window.first)?).ok()?;
        window.docs.get(index).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        // A panic while holding the lock cannot leave the window inconsistent
        // (each method mutates it in one step), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: u64) -> Bytes {
        Bytes::from(id.to_string())
    }

    #[test]
    fn stores_and_finds_orders_by_number() {
        let orders = Orders::new(10, 1000);
        assert_eq!(orders.insert(doc), "1");
        assert_eq!(orders.insert(doc), "2");
        assert_eq!(orders.get(1).as_deref(), Some(&b"1"[..]));
        assert_eq!(orders.get(2).as_deref(), Some(&b"2"[..]));
        assert_eq!(orders.get(0), None);
        assert_eq!(orders.get(3), None);
    }

    #[test]
    fn keeps_only_the_most_recent_orders() {
        let orders = Orders::new(3, 1000);
        for _ in 0..5 {
            orders.insert(doc);
        }
        assert_eq!(orders.get(2), None);
        assert_eq!(orders.get(3).as_deref(), Some(&b"3"[..]));
        assert_eq!(orders.get(5).as_deref(), Some(&b"5"[..]));
    }

    #[test]
    fn large_orders_evict_older_ones_to_stay_within_the_byte_budget() {
        let orders = Orders::new(100, 10);
        let big = |_| Bytes::from(vec![b'x'; 6]);
        orders.insert(big);
        orders.insert(big);
        assert_eq!(orders.get(1), None);
        assert!(orders.get(2).is_some());
        // An order larger than the whole budget is still kept until the next.
        orders.insert(|_| Bytes::from(vec![b'y'; 50]));
        assert_eq!(orders.get(2), None);
        assert!(orders.get(3).is_some());
    }
}
