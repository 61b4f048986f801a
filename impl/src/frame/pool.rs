//! Large received messages give their buffer back to the connection that
//! filled it when the user drops them.
//!
//! A message's buffer is handed to the user, so it cannot simply be reused.
//! Without this, every large message is a fresh allocation that the user
//! frees on another thread, the allocator returns its pages to the OS, and
//! the next message faults them back in, zeroed: streaming 1 MiB messages
//! spent 13 % of its time clearing pages. A few large buffers come back
//! here instead (`Bytes::from_owner`), bounded in number and size so that a
//! burst does not pin memory for the connection's life.

use std::sync::{Arc, Mutex, Weak};

use tungstenite::Bytes;

/// Buffers smaller than this are not pooled (the allocator keeps those).
pub(crate) const MIN_POOLED: usize = 64 * 1024;
/// Buffers larger than this are not kept.
const MAX_POOLED: usize = 4 << 20;
/// Most buffers kept per connection.
const MAX_BUFFERS: usize = 2;

type Shelf = Mutex<Vec<Vec<u8>>>;

/// The buffers of one connection's received messages.
#[derive(Debug, Default)]
pub(crate) struct BufferPool(Arc<Shelf>);

impl BufferPool {
    /// An empty buffer with room for `capacity` bytes: a returned one if
    /// one is large enough, else a new one.
    pub(crate) fn take(&self, capacity: usize) -> Vec<u8> {
        if capacity >= MIN_POOLED {
            let mut shelf = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = shelf.iter().position(|b| b.capacity() >= capacity) {
                return shelf.swap_remove(i);
            }
        }
        Vec::with_capacity(capacity)
    }

    /// The message's bytes; a large buffer comes back when they are dropped.
    pub(crate) fn freeze(&self, buf: Vec<u8>) -> Bytes {
        if buf.capacity() < MIN_POOLED || buf.capacity() > MAX_POOLED {
            return Bytes::from(buf);
        }
        Bytes::from_owner(Pooled {
            buf,
            shelf: Arc::downgrade(&self.0),
        })
    }
}

/// A pooled buffer lent to a message.
struct Pooled {
    buf: Vec<u8>,
    shelf: Weak<Shelf>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let Some(shelf) = self.shelf.upgrade() else {
            return; // the connection is gone
        };
        let mut shelf = shelf.lock().unwrap_or_else(|e| e.into_inner());
        if shelf.len() < MAX_BUFFERS {
            let mut buf = std::mem::take(&mut self.buf);
            buf.clear();
            shelf.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_buffers_come_back_when_their_message_is_dropped() {
        let pool = BufferPool::default();
        let mut buf = pool.take(MIN_POOLED);
        buf.extend_from_slice(&[7; MIN_POOLED]);
        let address = buf.as_ptr();
        let bytes = pool.freeze(buf);
        let copy = bytes.clone();
        drop(bytes);
        assert!(pool.0.lock().unwrap().is_empty(), "still lent to `copy`");
        assert_eq!(copy, vec![7; MIN_POOLED]);
        drop(copy);
        let again = pool.take(MIN_POOLED);
        assert_eq!((again.as_ptr(), again.len()), (address, 0));
    }

    #[test]
    fn small_huge_and_surplus_buffers_are_not_kept() {
        let pool = BufferPool::default();
        drop(pool.freeze(vec![1; 100]));
        drop(pool.freeze(Vec::with_capacity(MAX_POOLED + 1)));
        assert!(pool.0.lock().unwrap().is_empty());
        let lent: Vec<Bytes> = (0..3).map(|_| pool.freeze(pool.take(MIN_POOLED))).collect();
        drop(lent);
        assert_eq!(pool.0.lock().unwrap().len(), MAX_BUFFERS);
        // A message outliving its connection frees its buffer normally.
        let orphan = {
            let pool = BufferPool::default();
            pool.freeze(pool.take(MIN_POOLED))
        };
        drop(orphan);
    }
}
