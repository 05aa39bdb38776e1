//! The web console (`--web ADDR`): one page, embedded in the binary, that
//! shows the connections, the live messages both ways, the counters and the
//! rules, and sends, closes and reloads on the operator's behalf.
//!
//! What enters: the traffic, as a `tap::Watcher` (`viewers::Hub`), and a
//! `Backend` the server (or the relay) implements for what the page shows
//! and changes. What leaves: HTTP on a few fixed threads (`http`), and one
//! Server-Sent Events stream per open page, written by a thread of its own
//! (`events`). Workers only ever `try_send` into each viewer's bounded
//! queue: a browser that falls behind loses events (and is told how many),
//! it never slows a connection or the drain.

mod api;
mod events;
mod http;
mod viewers;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::tap::Watcher;

pub(crate) use self::api::{Backend, PageAction, TextView};
pub(crate) use self::http::header;
pub(crate) use self::viewers::Hub;

/// `--web`, `--web-token`, `--web-max-viewers`, checked.
#[derive(Debug, Clone)]
pub(crate) struct WebConfig {
    pub addr: SocketAddr,
    /// Needed on every change and on the live stream; `None`: loopback only.
    pub token: Option<String>,
    pub max_viewers: usize,
    /// How long one write to a browser may block: a client that asks and
    /// never reads would otherwise hold one of the few request threads (or
    /// a viewer's place) for good. Long enough that a viewer paused for a
    /// while resumes; a test shortens it (`TCPACK_TEST_WEB_WRITE_TIMEOUT_MS`).
    pub write_timeout: Duration,
}

/// `WebConfig::write_timeout` unless a test says otherwise.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

impl WebConfig {
    /// Checks that a console anyone on the network could reach has a token;
    /// `token_file`'s first line is the token when given. Runs before
    /// anything is bound.
    pub(crate) fn new(
        addr: SocketAddr,
        token: Option<&str>,
        token_file: Option<&std::path::Path>,
        max_viewers: usize,
    ) -> Result<Self, String> {
        let token = match (token, token_file) {
            (Some(token), _) => Some(token.to_owned()),
            (None, Some(file)) => {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    format!("--web-token-file {}: cannot read it: {e}", file.display())
                })?;
                Some(text.lines().next().unwrap_or_default().trim().to_owned())
            }
            (None, None) => None,
        };
        if token.as_deref().is_some_and(str::is_empty) {
            return Err(
                "--web-token is empty: give a secret, such as the output of `openssl rand -hex 16`"
                    .into(),
            );
        }
        if token.is_none() && !addr.ip().is_loopback() {
            return Err(format!(
                "--web {addr} is not a loopback address: anyone who reaches it could watch your clients and write to them; add --web-token TOKEN (or --web-token-file FILE), or use --web 127.0.0.1:{}",
                addr.port()
            ));
        }
        Ok(Self {
            addr,
            token,
            max_viewers,
            write_timeout: WRITE_TIMEOUT,
        })
    }
}

/// A console bound to its address, its hub already watching, not yet serving.
pub(crate) struct Console {
    listener: TcpListener,
    hub: Arc<Hub>,
    config: WebConfig,
}

impl Console {
    /// Binds `config.addr`; the hub starts watching at once (it keeps
    /// nothing until a page opens).
    pub(crate) fn bind(config: WebConfig, display: TextView) -> Result<Self> {
        let listener = TcpListener::bind(config.addr).with_context(|| {
            format!(
                "binding the web console to {}: is another program using it? pick another --web port",
                config.addr
            )
        })?;
        Ok(Self {
            listener,
            hub: Arc::new(Hub::new(config.max_viewers, display)),
            config,
        })
    }

    /// The hub, to subscribe to the tap.
    pub(crate) fn watcher(&self) -> Arc<dyn Watcher> {
        Arc::clone(&self.hub) as Arc<dyn Watcher>
    }

    /// The page's address.
    pub(crate) fn url(&self) -> Result<String> {
        let addr = self
            .listener
            .local_addr()
            .context("reading the web console's address")?;
        Ok(format!("http://{addr}/"))
    }

    /// Starts serving; everything ends when the tap says `Stopped`.
    pub(crate) fn start(self, backend: Arc<dyn Backend>) -> Result<()> {
        http::start(
            self.listener,
            self.hub,
            backend,
            self.config.token,
            self.config.write_timeout,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_loopback_needs_a_token() {
        let any: SocketAddr = "0.0.0.0:7786".parse().unwrap();
        let error = WebConfig::new(any, None, None, 8).unwrap_err();
        assert!(error.contains("--web-token"), "{error}");
        assert!(WebConfig::new(any, Some("s3cret"), None, 8).is_ok());
        assert!(WebConfig::new(any, Some(""), None, 8).is_err());
        for local in ["127.0.0.1:7786", "[::1]:7786"] {
            let config = WebConfig::new(local.parse().unwrap(), None, None, 8).unwrap();
            assert_eq!(config.token, None);
        }
    }
}
