//! The reflection guard's other half: how big a UDP answer may be, and the
//! warning for a socket other machines can reach.
//!
//! An answer bigger than its request turns tcpack into an amplifier: a forger
//! spends a few bytes and the victim receives many. So an answer may be at
//! most `FACTOR` times its request, or `FLOOR` bytes whatever the request,
//! as QUIC bounds what a server sends to an address it has not validated
//! (RFC 9000, section 8.1: three times what it received). With the 28 bytes
//! of IPv4 and UDP headers counted, the worst case, an empty request answered
//! with `FLOOR` bytes, is 92 bytes on the wire for 28: 3.3 times.

use std::net::SocketAddr;

/// Answers may be up to this many times their request's size...
pub(super) const FACTOR: usize = 3;
/// ...or this many bytes, for small requests: the default ack (10 bytes)
/// answers even an empty datagram.
pub(super) const FLOOR: usize = 64;

/// The largest answer a request of `request` bytes may get.
pub(super) fn answer_limit(request: usize) -> usize {
    request.saturating_mul(FACTOR).max(FLOOR)
}

/// The warning for a UDP socket that other machines can reach; `None` on loopback.
pub(crate) fn exposure_warning(addr: SocketAddr, rate: u32) -> Option<String> {
    if addr.ip().to_canonical().is_loopback() {
        return None;
    }
    let limit = if rate == 0 {
        "the rate limit is OFF (--udp-rate 0), so nothing bounds the answers to one address"
            .to_owned()
    } else {
        format!("answers to one address are limited to {rate} a second (--udp-rate)")
    };
    Some(format!(
        "udp on {addr} is reachable from other machines: a UDP source address can be forged, so answers can be aimed at a victim (reflection); {limit}, and each answer to at most {FACTOR}x its request or {FLOOR} bytes"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_grow_with_the_request_from_a_small_floor() {
        assert_eq!(answer_limit(0), FLOOR);
        assert_eq!(answer_limit(3), FLOOR);
        assert_eq!(answer_limit(100), 300);
        assert_eq!(answer_limit(65_507), 196_521);
        assert_eq!(answer_limit(usize::MAX), usize::MAX);
    }

    #[test]
    fn only_sockets_other_machines_reach_are_warned_about() {
        let warn = |addr: &str, rate| exposure_warning(addr.parse().unwrap(), rate);
        assert_eq!(warn("127.0.0.1:7785", 100), None);
        assert_eq!(warn("[::1]:7785", 0), None);
        assert_eq!(warn("[::ffff:127.0.0.1]:7785", 0), None);
        let public = warn("0.0.0.0:7785", 100).unwrap();
        assert!(
            public.contains("reflection") && public.contains("100 a second"),
            "{public}"
        );
        assert!(warn("[::]:7785", 0).unwrap().contains("OFF"));
    }
}
