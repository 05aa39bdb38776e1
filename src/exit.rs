//! Exit statuses: the one list that `main`, the client, `--help` and the
//! README's table all follow.

/// A flag value that parses but cannot be used: exit 2, as for clap's own usage errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub String);

/// How a `tcpack` process ended. The server uses the first three and
/// `Interrupted`; the client tells its failures apart so scripts can too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    Failure,
    Usage,
    Refused,
    ConnectTimeout,
    NotResolved,
    ClosedEarly,
    NoAck,
    TurnedAway,
    Tls,
    /// `tcpack replay --to`: a server's answer was not the recorded one.
    Differs,
    /// A second Ctrl-C cut the drain short, or Ctrl-C stopped the client:
    /// 128 + SIGINT, as shells report it.
    Interrupted,
}

impl Exit {
    /// Every status, in the order `--help` and the README list them.
    pub(crate) const ALL: [Exit; 12] = [
        Exit::Success,
        Exit::Failure,
        Exit::Usage,
        Exit::Refused,
        Exit::ConnectTimeout,
        Exit::NotResolved,
        Exit::ClosedEarly,
        Exit::NoAck,
        Exit::TurnedAway,
        Exit::Tls,
        Exit::Differs,
        Exit::Interrupted,
    ];

    /// The process's exit status.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
            Exit::Refused => 3,
            Exit::ConnectTimeout => 4,
            Exit::NotResolved => 5,
            Exit::ClosedEarly => 6,
            Exit::NoAck => 7,
            Exit::TurnedAway => 8,
            Exit::Tls => 9,
            Exit::Differs => 10,
            Exit::Interrupted => 130,
        }
    }

    /// What the status means to a client user, as the README's table says it.
    pub(crate) fn meaning(self) -> &'static str {
        match self {
            Exit::Success => "every message was acked",
            Exit::Failure => "another I/O error",
            Exit::Usage => "bad usage or input (clap errors, bad hex, text GBK cannot encode)",
            Exit::Refused => "connection refused: nothing listens there",
            Exit::ConnectTimeout => "connect timed out: nothing answers there",
            Exit::NotResolved => "the host name does not resolve",
            Exit::ClosedEarly => "the server closed the connection before acking",
            Exit::NoAck => "no ack within `--timeout`",
            Exit::TurnedAway => {
                "turned away: the server answered `server busy` or `server shutting down`"
            }
            Exit::Tls => {
                "no TLS: the certificate is not trusted, the server does not speak TLS, or it refused the handshake"
            }
            Exit::Differs => "replay: an answer differed from the recording",
            Exit::Interrupted => "interrupted (Ctrl-C)",
        }
    }

    /// Ends the process at once with this status, from a signal handler say.
    pub(crate) fn now(self) -> ! {
        std::process::exit(self.code().into())
    }
}

/// The client's `--help` epilogue.
pub(crate) fn client_help() -> String {
    let lines: Vec<String> = Exit::ALL
        .iter()
        .map(|e| format!("  {:>3}  {}", e.code(), e.meaning().replace('`', "")))
        .collect();
    format!("Exit codes:\n{}", lines.join("\n"))
}

/// `tcpack replay`'s `--help` epilogue: the statuses a replay ends with.
pub(crate) fn replay_help() -> String {
    let lines: Vec<String> = [Exit::Success, Exit::Failure, Exit::Usage, Exit::Differs]
        .iter()
        .map(|e| {
            let meaning = match e {
                Exit::Success => "every answer was the recorded one (or --serve stopped cleanly)",
                Exit::Usage => "bad usage, or the file is not a transcript (the line is named)",
                other => other.meaning(),
            };
            format!("  {:>3}  {}", e.code(), meaning.replace('`', ""))
        })
        .collect();
    format!("Exit codes:\n{}", lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_table_lists_every_status_as_the_enum_does() {
        let readme = include_str!("../README.md");
        let rows: Vec<(u8, &str)> = readme
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
                match cells.as_slice() {
                    [code, meaning] => Some((code.parse().ok()?, *meaning)),
                    _ => None,
                }
            })
            .collect();
        let expected: Vec<(u8, &str)> = Exit::ALL.iter().map(|e| (e.code(), e.meaning())).collect();
        assert_eq!(rows, expected);
    }

    #[test]
    fn codes_are_distinct_and_help_names_each() {
        let help = client_help();
        for (i, e) in Exit::ALL.iter().enumerate() {
            assert!(Exit::ALL[..i].iter().all(|o| o.code() != e.code()));
            assert!(help.contains(&format!("{}  {}", e.code(), e.meaning().replace('`', ""))));
        }
        let differs = Exit::Differs;
        assert!(replay_help().contains(&format!("{}  {}", differs.code(), differs.meaning())));
    }
}
