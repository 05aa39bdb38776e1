//! The distinct UDP peers (source address and port) the server has heard,
//! for the summary and the status port: UDP has no connections to count, a
//! peer is the nearest thing. Bounded: past `capacity` peers the count stops
//! growing rather than the memory.

use std::collections::HashSet;
use std::net::SocketAddr;

/// The source addresses heard, up to a capacity, for the summary's count.
pub(super) struct Peers {
    seen: HashSet<SocketAddr>,
    capacity: usize,
}

impl Peers {
    /// Remembers at most `capacity` addresses.
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            seen: HashSet::new(),
            capacity,
        }
    }

    /// Notes `peer`; returns the number of distinct peers if it was new.
    pub(super) fn insert(&mut self, peer: SocketAddr) -> Option<usize> {
        if self.seen.len() >= self.capacity {
            return None;
        }
        self.seen.insert(peer).then_some(self.seen.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_peer_once_up_to_the_capacity() {
        let mut peers = Peers::new(2);
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2".parse().unwrap();
        assert_eq!(peers.insert(a), Some(1));
        assert_eq!(peers.insert(a), None);
        assert_eq!(peers.insert(b), Some(2));
        assert_eq!(peers.insert("127.0.0.1:3".parse().unwrap()), None);
    }
}
