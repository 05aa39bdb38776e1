//! The value parsers the flags share: durations, counts and addresses to listen on.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use crate::duration::{self, Unitless};

/// `1s`, `500ms`, or a number of seconds; at least a millisecond.
pub(super) fn parse_interval(text: &str) -> Result<Duration, String> {
    let duration = duration::parse(text, Unitless::Seconds)?;
    if duration < Duration::from_millis(1) {
        return Err(format!("`{text}` is shorter than 1ms"));
    }
    Ok(duration)
}

/// An address to listen on as people write it: `127.0.0.1:7785`,
/// `[::1]:7785`, `localhost:7785`, or a bare port for loopback, as `ncat -l
/// 7785` takes one. A name that means both IPv4 and IPv6 (localhost) is taken
/// as IPv4, which is what most clients try first or alone.
pub(super) fn parse_bind(text: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    // std would read `::1` as host `::`, port 1.
    if text.matches(':').count() > 1 && !text.starts_with('[') {
        return Err("an IPv6 address goes in brackets, as in [::1]:7785".into());
    }
    let usage = "give ADDR:PORT such as 127.0.0.1:7785, [::1]:7785 or localhost:7785, or a PORT";
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| format!("{e}; {usage}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("the name has no address; {usage}"))
}

pub(super) fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{text}` is not a whole number")),
    }
}

/// A number of seconds (`0.5`, so tests and impatient users can say it),
/// or `500ms`, `1.5s`; zero too.
pub(super) fn parse_secs_or_zero(text: &str) -> Result<Duration, String> {
    duration::parse(text, Unitless::Seconds)
}

/// As `parse_secs_or_zero`, but more than zero: a timeout of nothing would
/// end everything at once.
pub(super) fn parse_secs(text: &str) -> Result<Duration, String> {
    let duration = duration::parse(text, Unitless::Seconds)?;
    if duration.is_zero() {
        return Err(format!("`{text}` must be more than 0 seconds"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_takes_addresses_localhost_and_a_bare_port() {
        let v4: SocketAddr = "127.0.0.1:7785".parse().unwrap();
        assert_eq!(parse_bind("127.0.0.1:7785"), Ok(v4));
        assert_eq!(parse_bind("7785"), Ok(v4));
        // Only where /etc/hosts answers for localhost, so no query leaves the machine.
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        if hosts
            .lines()
            .any(|l| l.starts_with("127.") && l.contains("localhost"))
        {
            assert_eq!(parse_bind("localhost:7785"), Ok(v4));
        }
        assert_eq!(parse_bind("[::1]:0"), Ok("[::1]:0".parse().unwrap()));
        for bad in ["127.0.0.1", "127.0.0.1:http", "localhost:99999"] {
            let error = parse_bind(bad).unwrap_err();
            assert!(error.contains("give ADDR:PORT such as"), "{bad}: {error}");
        }
        let error = parse_bind("::1").unwrap_err();
        assert!(error.contains("goes in brackets"), "{error}");
    }

    #[test]
    fn seconds_accept_fractions_and_refuse_nonsense() {
        assert_eq!(parse_secs("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_secs("300"), Ok(Duration::from_secs(300)));
        assert!(parse_secs("0").is_err());
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("soon").is_err());
        assert!(parse_secs("NaN").is_err());
    }
}
