//! `--shard I/N` and `--start-at`: one bench of many, started together.
//!
//! A shard takes its exact share of the connections: `C / N` each, and one
//! more for the first `C % N` shards, so the shares always add up to `C`.
//! Its connections are numbered from its offset in the whole run, so the
//! reports of all shards cover `0..C` once.

use serde::{Deserialize, Serialize};

/// Which shard this run is, as the command line said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShardSpec {
    /// `--shard I/N`.
    Fixed { index: usize, of: usize },
    /// `--shards N`: the index comes from `JOB_COMPLETION_INDEX` (Kubernetes Indexed Jobs).
    FromEnv { of: usize },
}

/// The variable a Kubernetes Indexed Job sets to each pod's index.
pub(crate) const INDEX_VAR: &str = "JOB_COMPLETION_INDEX";

/// A shard's place in the whole run, as its report names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Shard {
    pub index: usize,
    pub of: usize,
    /// The first of this shard's connection indices in the whole run.
    pub first_connection: usize,
    /// This shard's connections.
    pub connections: usize,
    /// All shards' connections together.
    pub total_connections: usize,
}

impl ShardSpec {
    /// The index and count, the index from `env` (the value of
    /// `JOB_COMPLETION_INDEX`) for `--shards`.
    pub(crate) fn resolve(self, env: Option<&str>) -> Result<(usize, usize), String> {
        match self {
            ShardSpec::Fixed { index, of } => Ok((index, of)),
            ShardSpec::FromEnv { of } => {
                let Some(text) = env else {
                    return Err(format!(
                        "--shards {of} takes this shard's index from {INDEX_VAR}, which is not set; \
                         set it (a Kubernetes Indexed Job does) or give --shard I/{of}"
                    ));
                };
                let index: usize = text.trim().parse().map_err(|_| {
                    format!(
                        "{INDEX_VAR}={text:?} is not a whole number; give --shard I/{of} instead"
                    )
                })?;
                if index >= of {
                    return Err(format!(
                        "{INDEX_VAR}={index} is no shard of --shards {of}: indices run 0..{}",
                        of - 1
                    ));
                }
                Ok((index, of))
            }
        }
    }
}

/// Shard `index` of `of` of a run of `total` connections.
pub(crate) fn split(index: usize, of: usize, total: usize) -> Result<Shard, String> {
    let (base, extra) = (total / of, total % of);
    let connections = base + usize::from(index < extra);
    if connections == 0 {
        return Err(format!(
            "-c {total} over {of} shards leaves shard {index} with no connection; \
             give at least -c {of} or fewer shards"
        ));
    }
    Ok(Shard {
        index,
        of,
        first_connection: index * base + index.min(extra),
        connections,
        total_connections: total,
    })
}

/// `I/N` as `--shard` takes it.
pub(crate) fn parse(text: &str) -> Result<(usize, usize), String> {
    let usage = || format!("`{text}` is not I/N (0-based shard I of N shards), e.g. 0/4");
    let (index, of) = text.split_once('/').ok_or_else(usage)?;
    let index: usize = index.trim().parse().map_err(|_| usage())?;
    let of: usize = of.trim().parse().map_err(|_| usage())?;
    if of == 0 {
        return Err(format!("`{text}`: N must be at least 1"));
    }
    if index >= of {
        return Err(format!(
            "`{text}`: shards are numbered from 0, so I must be below N (0..{})",
            of - 1
        ));
    }
    Ok((index, of))
}

/// `--start-at`: RFC 3339 (`2026-12-07T23:30:00Z`) or unix seconds (`1796685000`, `1796685000.5`).
pub(crate) fn parse_time(text: &str) -> Result<std::time::SystemTime, String> {
    use std::time::{Duration, UNIX_EPOCH};
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(std::time::SystemTime::from(at));
    }
    match text.trim().parse::<f64>() {
        Ok(secs) if (0.0..1e11).contains(&secs) => Ok(UNIX_EPOCH + Duration::from_secs_f64(secs)),
        _ => Err(format!(
            "`{text}` is no time: give RFC 3339 (2026-12-07T23:30:00Z) or unix seconds"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_ids_do_not_overlap() {
        for of in [1, 3, 7] {
            for total in [of, 10, 64, 100] {
                let shards: Vec<Shard> = (0..of).map(|i| split(i, of, total).unwrap()).collect();
                assert_eq!(shards.iter().map(|s| s.connections).sum::<usize>(), total);
                let mut next = 0;
                for s in &shards {
                    assert_eq!(s.first_connection, next, "{of} {total}");
                    next += s.connections;
                }
                let (min, max) = (
                    shards.iter().map(|s| s.connections).min().unwrap(),
                    shards.iter().map(|s| s.connections).max().unwrap(),
                );
                assert!(max - min <= 1);
            }
        }
        let three: Vec<usize> = (0..3)
            .map(|i| split(i, 3, 10).unwrap().connections)
            .collect();
        assert_eq!(three, [4, 3, 3]);
        assert!(split(2, 3, 2).is_err());
    }

    #[test]
    fn bad_shards_are_refused() {
        assert_eq!(parse("2/3"), Ok((2, 3)));
        for bad in ["3/3", "0/0", "x/2", "1", "-1/2", "1/2/3"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let env = ShardSpec::FromEnv { of: 4 };
        assert_eq!(env.resolve(Some("3")), Ok((3, 4)));
        for bad in [None, Some("4"), Some("two"), Some("")] {
            assert!(env.resolve(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn start_times_parse() {
        use std::time::{Duration, UNIX_EPOCH};
        let at = UNIX_EPOCH + Duration::from_secs(1_796_685_000);
        assert_eq!(parse_time("1796685000"), Ok(at));
        assert_eq!(parse_time("2026-12-07T00:30:00Z").map(|_| ()), Ok(()));
        assert_eq!(
            parse_time("1796685000.5"),
            Ok(at + Duration::from_millis(500))
        );
        assert!(parse_time("tomorrow").is_err());
        assert!(parse_time("nan").is_err());
    }
}
