//! The relay's `--fault DIR:KIND[=V][,k=v]` vocabulary, toxiproxy's:
//! `latency` (`jitter`), `bandwidth`, `slicer` (`delay`), `limit-data`,
//! `timeout`, `reset`, each with `probability`. Pure: text in, a checked
//! `Fault` out; the relay applies them (`server/relay/faults.rs`).

use std::fmt;
use std::time::Duration;

use crate::duration::{self, Unitless};

/// Which way a fault acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Client → server.
    Up,
    /// Server → client.
    Down,
    Both,
}

impl Dir {
    /// Whether it acts on `up` (client → server) or, if false, on down.
    pub(crate) fn covers(self, up: bool) -> bool {
        match self {
            Dir::Both => true,
            Dir::Up => up,
            Dir::Down => !up,
        }
    }
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FaultKind {
    /// Each chunk is held this long, ± up to `jitter`.
    Latency { delay: Duration, jitter: Duration },
    /// At most this many bytes a second.
    Bandwidth { bytes_per_sec: u64 },
    /// Written in pieces of `size` bytes, `delay` apart.
    Slicer { size: usize, delay: Duration },
    /// Both sides closed once this many bytes went this way.
    LimitData { bytes: u64 },
    /// Nothing forwarded this way; both sides closed after this long.
    Timeout { after: Duration },
    /// After this long, a reset to the side this way flows to.
    Reset { after: Duration },
}

/// One `--fault`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Fault {
    pub dir: Dir,
    pub kind: FaultKind,
    /// The share of connections it applies to (0..=1).
    pub probability: f64,
}

const USAGE: &str = "give DIR:KIND[=V][,k=v] with DIR up, down or both and KIND latency=200ms[,jitter=50ms], bandwidth=64KiB, slicer=16[,delay=5ms], limit-data=4096, timeout=5s or reset=2s, each optionally with probability=0.5";

/// Parses one `--fault` value.
pub(crate) fn parse(text: &str) -> Result<Fault, String> {
    let bad = |why: String| format!("--fault {text:?}: {why}; {USAGE}");
    let (dir, rest) = text
        .split_once(':')
        .ok_or_else(|| bad("no direction".into()))?;
    let dir = match dir.trim() {
        "up" => Dir::Up,
        "down" => Dir::Down,
        "both" => Dir::Both,
        other => return Err(bad(format!("unknown direction {other:?}"))),
    };
    let mut parts = rest.split(',');
    let (kind, value) = split_pair(parts.next().unwrap_or_default());
    let mut options: Vec<(&str, &str)> = Vec::new();
    for part in parts {
        let (key, value) = split_pair(part);
        options.push((
            key,
            value.ok_or_else(|| bad(format!("{key} needs a value")))?,
        ));
    }
    let mut probability = 1.0;
    let mut jitter = Duration::ZERO;
    let mut delay = Duration::ZERO;
    for (key, value) in &options {
        match (*key, kind) {
            ("probability", _) => {
                probability = value
                    .parse::<f64>()
                    .ok()
                    .filter(|p| (0.0..=1.0).contains(p))
                    .ok_or_else(|| bad(format!("probability {value:?} is not between 0 and 1")))?;
            }
            ("jitter", "latency") => jitter = time(value).map_err(bad)?,
            ("delay", "slicer") => delay = time(value).map_err(bad)?,
            _ => return Err(bad(format!("{key} does not go with {kind}"))),
        }
    }
    let value = value.ok_or_else(|| bad(format!("{kind} needs a value, as {kind}=…")));
    let kind = match kind {
        "latency" => FaultKind::Latency {
            delay: time(value?).map_err(bad)?,
            jitter,
        },
        "bandwidth" => FaultKind::Bandwidth {
            bytes_per_sec: positive(size(value?).map_err(bad)?, "bandwidth", "a byte a second")
                .map_err(bad)?,
        },
        "slicer" => FaultKind::Slicer {
            size: usize::try_from(
                positive(size(value?).map_err(bad)?, "slicer", "a piece of one byte")
                    .map_err(bad)?,
            )
            .unwrap_or(usize::MAX),
            delay,
        },
        "limit-data" => FaultKind::LimitData {
            bytes: size(value?).map_err(bad)?,
        },
        "timeout" => FaultKind::Timeout {
            after: time(value?).map_err(bad)?,
        },
        "reset" => FaultKind::Reset {
            after: time(value?).map_err(bad)?,
        },
        other => return Err(bad(format!("unknown fault {other:?}"))),
    };
    Ok(Fault {
        dir,
        kind,
        probability,
    })
}

/// `bandwidth=0` or `slicer=0` would never send a byte: a mistake, said as one.
fn positive(value: u64, kind: &str, least: &str) -> Result<u64, String> {
    match value {
        0 => Err(format!(
            "{kind}=0 would never pass a byte; the least is 1 ({least})"
        )),
        n => Ok(n),
    }
}

fn split_pair(text: &str) -> (&str, Option<&str>) {
    match text.split_once('=') {
        Some((key, value)) => (key.trim(), Some(value.trim())),
        None => (text.trim(), None),
    }
}

fn time(text: &str) -> Result<Duration, String> {
    duration::parse(text, Unitless::Refused)
}

/// `4096`, `64KiB`, `1MiB`, `10KB` (B, KB, MB, GB: powers of 1000; KiB, MiB, GiB: of 1024).
fn size(text: &str) -> Result<u64, String> {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1000,
        "KiB" | "K" | "k" => 1024,
        "MB" => 1_000_000,
        "MiB" | "M" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" | "G" => 1 << 30,
        _ => return Err(format!("{text:?} is not a size like 4096, 64KiB or 1MiB")),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("{text:?} is not a size like 4096, 64KiB or 1MiB"))
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = match self.dir {
            Dir::Up => "up",
            Dir::Down => "down",
            Dir::Both => "both",
        };
        write!(f, "{dir}:")?;
        let ms = |d: Duration| d.as_millis();
        match self.kind {
            FaultKind::Latency { delay, jitter } => {
                write!(f, "latency={}ms", ms(delay))?;
                if !jitter.is_zero() {
                    write!(f, ",jitter={}ms", ms(jitter))?;
                }
            }
            FaultKind::Bandwidth { bytes_per_sec } => write!(f, "bandwidth={bytes_per_sec}B")?,
            FaultKind::Slicer { size, delay } => write!(f, "slicer={size},delay={}ms", ms(delay))?,
            FaultKind::LimitData { bytes } => write!(f, "limit-data={bytes}")?,
            FaultKind::Timeout { after } => write!(f, "timeout={}ms", ms(after))?,
            FaultKind::Reset { after } => write!(f, "reset={}ms", ms(after))?,
        }
        if self.probability < 1.0 {
            write!(f, ",probability={}", self.probability)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vocabulary_parses_with_its_options() {
        let f = parse("down:latency=200ms,jitter=50ms,probability=0.5").unwrap();
        assert_eq!(f.dir, Dir::Down);
        assert_eq!(
            f.kind,
            FaultKind::Latency {
                delay: Duration::from_millis(200),
                jitter: Duration::from_millis(50)
            }
        );
        assert_eq!(f.probability, 0.5);
        assert_eq!(
            parse("up:bandwidth=64KiB").unwrap().kind,
            FaultKind::Bandwidth {
                bytes_per_sec: 65536
            }
        );
        assert_eq!(
            parse("both:slicer=16,delay=5ms").unwrap().kind,
            FaultKind::Slicer {
                size: 16,
                delay: Duration::from_millis(5)
            }
        );
        assert_eq!(
            parse("up:limit-data=4096").unwrap().kind,
            FaultKind::LimitData { bytes: 4096 }
        );
        assert_eq!(
            parse("down:reset=2s").unwrap().kind,
            FaultKind::Reset {
                after: Duration::from_secs(2)
            }
        );
        assert_eq!(
            parse("up:timeout=1.5s").unwrap().to_string(),
            "up:timeout=1500ms"
        );
    }

    #[test]
    fn mistakes_are_named() {
        for (bad, why) in [
            ("latency=200ms", "no direction"),
            ("sideways:latency=1s", "unknown direction"),
            ("up:latency", "needs a value"),
            ("up:latency=10", "not a duration"),
            ("up:bandwidth=fast", "not a size"),
            ("up:wobble=3", "unknown fault"),
            ("up:latency=1s,delay=2ms", "does not go with"),
            ("up:reset=1s,probability=2", "between 0 and 1"),
            ("up:bandwidth=0", "bandwidth=0 would never pass a byte"),
            ("down:bandwidth=0KiB", "bandwidth=0 would never pass a byte"),
            ("both:slicer=0", "slicer=0 would never pass a byte"),
            ("up:slicer=0,delay=5ms", "slicer=0 would never pass a byte"),
        ] {
            let error = parse(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
            assert!(error.contains("give DIR:KIND"), "{error}");
        }
    }
}
