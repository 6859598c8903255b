//! The in-memory orders store behind `/api/orders`: bounded, so a long load
//! test that creates orders cannot grow the target without limit.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;

/// How many of the most recent orders are kept; older ones answer 404.
pub(crate) const ORDERS_KEPT: usize = 100_000;

/// Orders numbered 1, 2, 3, ...; only the last `capacity` are kept.
#[derive(Debug)]
pub(crate) struct Orders {
    inner: Mutex<Window>,
    capacity: usize,
}

#[derive(Debug)]
struct Window {
    /// Number of the order at the front of `docs`.
    first: u64,
    /// Serialized order documents, ready to send.
    docs: VecDeque<Bytes>,
}

impl Orders {
    pub(crate) fn new(capacity: usize) -> Self {
        Orders {
            inner: Mutex::new(Window {
                first: 1,
                docs: VecDeque::new(),
            }),
            capacity,
        }
    }

    /// Assigns the next order number, stores the document that `render` makes
    /// for it, and returns that document.
    pub(crate) fn insert(&self, render: impl FnOnce(u64) -> Bytes) -> Bytes {
        let mut window = self.lock();
        let id = window.first + window.docs.len() as u64;
        let doc = render(id);
        window.docs.push_back(doc.clone());
        if window.docs.len() > self.capacity {
            window.docs.pop_front();
            window.first += 1;
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
        let orders = Orders::new(10);
        assert_eq!(orders.insert(doc), "1");
        assert_eq!(orders.insert(doc), "2");
        assert_eq!(orders.get(1).as_deref(), Some(&b"1"[..]));
        assert_eq!(orders.get(2).as_deref(), Some(&b"2"[..]));
        assert_eq!(orders.get(0), None);
        assert_eq!(orders.get(3), None);
    }

    #[test]
    fn keeps_only_the_most_recent_orders() {
        let orders = Orders::new(3);
        for _ in 0..5 {
            orders.insert(doc);
        }
        assert_eq!(orders.get(2), None);
        assert_eq!(orders.get(3).as_deref(), Some(&b"3"[..]));
        assert_eq!(orders.get(5).as_deref(), Some(&b"5"[..]));
    }
}
