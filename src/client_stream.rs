//! A client's connection, plaintext or TLS, as the client and the bench use
//! it: blocking reads and writes, with the socket at hand for timeouts and
//! half-closes. TLS is the crate's one record I/O (`tls::TlsIo`), as the
//! server and the relay speak it, rather than rustls's `StreamOwned`, which
//! does the same work for a single owner; the handshake is driven here at
//! once, so a certificate problem is reported before any message.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConfig, ClientConnection, Connection};
use rustls_pki_types::ServerName;

use crate::tls::{TlsIo, Trust};

/// A client's connection to the server.
pub(crate) enum ClientStream {
    Plain(TcpStream),
    Tls { sock: TcpStream, tls: Box<TlsIo> },
}

/// TLS as `tcpack client` or `tcpack bench` was asked to speak it.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsOptions {
    /// `--tls`: without it, the rest is unused.
    pub enabled: bool,
    /// Trust a server certificate this PEM file signed (else the system's CAs).
    pub ca: Option<PathBuf>,
    /// Trust any server certificate.
    pub insecure: bool,
    /// The name the certificate must carry, if not the host connected to.
    pub name: Option<String>,
    /// A client certificate and its key, for mutual TLS.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// How a TLS client connects: its configuration and the name it checks.
#[derive(Clone)]
pub(crate) struct TlsClient {
    pub config: Arc<ClientConfig>,
    pub name: ServerName<'static>,
}

impl TlsClient {
    /// From the options, for a server reached as `host`; `None` without `--tls`.
    pub(crate) fn new(options: &TlsOptions, host: &str) -> Result<Option<Self>, String> {
        if !options.enabled {
            return Ok(None);
        }
        let trust = match (&options.ca, options.insecure) {
            (Some(ca), _) => Trust::Ca(ca),
            (None, true) => {
                eprintln!(
                    "warning: --insecure: the server's certificate is not checked, so anyone on the way can pose as the server"
                );
                Trust::Anything
            }
            (None, false) => Trust::System,
        };
        let identity = options.cert.as_deref().zip(options.key.as_deref());
        Ok(Some(TlsClient {
            config: crate::tls::client(trust, identity)?,
            name: crate::tls::server_name(options.name.as_deref().unwrap_or(host))?,
        }))
    }
}

impl ClientStream {
    /// Wraps a connected socket; with `tls`, completes the handshake within `timeout`.
    pub(crate) fn new(
        stream: TcpStream,
        tls: Option<&TlsClient>,
        timeout: Duration,
    ) -> Result<Self, TlsError> {
        let Some(tls) = tls else {
            return Ok(ClientStream::Plain(stream));
        };
        let conn = ClientConnection::new(Arc::clone(&tls.config), tls.name.clone())
            .map_err(|e| TlsError::Setup(e.to_string()))?;
        let mut conn = Connection::Client(conn);
        let mut sock = stream;
        sock.set_read_timeout(Some(timeout)).map_err(TlsError::Io)?;
        sock.set_write_timeout(Some(timeout))
            .map_err(TlsError::Io)?;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock)
                .map_err(|e| TlsError::from_io(e, timeout))?;
        }
        Ok(ClientStream::Tls {
            sock,
            tls: Box::new(TlsIo::new(conn)),
        })
    }

    /// The socket under it, for timeouts and half-closes.
    pub(crate) fn socket(&self) -> &TcpStream {
        match self {
            ClientStream::Plain(stream) | ClientStream::Tls { sock: stream, .. } => stream,
        }
    }

    /// Ends our side: close_notify for TLS, then the socket's write half.
    pub(crate) fn finish(&mut self) {
        if let ClientStream::Tls { sock, tls } = self {
            tls.close_notify(&mut &*sock);
        }
        let _ = self.socket().shutdown(Shutdown::Write);
    }
}

impl Read for ClientStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ClientStream::Plain(stream) => stream.read(buf),
            // A server that closes without close_notify has still closed.
            ClientStream::Tls { sock, tls } => tls.read_from(sock, buf),
        }
    }
}

impl Write for ClientStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            ClientStream::Plain(stream) => stream.write(buf),
            ClientStream::Tls { sock, tls } => tls.write(&mut &*sock, buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            ClientStream::Plain(stream) => stream.flush(),
            ClientStream::Tls { sock, tls } => tls.flush_all(&mut &*sock),
        }
    }
}

/// Why a TLS connection did not come about.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    #[error("TLS setup: {0}")]
    Setup(String),
    #[error(
        "the server's certificate is not trusted ({0}): trust it with --tls-ca FILE (the certificate `tcpack server --tls-save-cert FILE` wrote, or its CA), add its CA to the system's store (or to a bundle named by SSL_CERT_FILE), or skip the check with --insecure"
    )]
    Untrusted(String),
    #[error(
        "the server's certificate is not for this name ({0}): connect by one of its names, or name one with --tls-name"
    )]
    WrongName(String),
    #[error(
        "the server's certificate is out of date ({0}): the server needs a current certificate"
    )]
    Expired(String),
    #[error(
        "the server does not speak TLS ({0}): is it a plaintext server? drop --tls, or start it with --tls-self-signed or --tls-mode auto"
    )]
    NotTls(String),
    #[error("the TLS handshake failed: {0}")]
    Rejected(String),
    #[error("the TLS handshake did not finish within {0:?}")]
    TimedOut(Duration),
    #[error("{0}")]
    Io(io::Error),
}

impl TlsError {
    /// The TLS error inside an I/O error from a connection already set up,
    /// such as the alert a server sends when it refuses a client certificate
    /// (TLS 1.3 tells the client only after its side of the handshake is done).
    pub(crate) fn from_session_io(error: &io::Error) -> Option<Self> {
        use rustls::{AlertDescription as A, Error as E};
        let tls = error.get_ref()?.downcast_ref::<E>()?;
        Some(match tls {
            E::AlertReceived(A::CertificateRequired) => TlsError::Rejected(format!(
                "{tls}; the server requires a client certificate: give one with --tls-cert FILE --tls-key FILE"
            )),
            E::AlertReceived(A::BadCertificate | A::UnknownCA | A::CertificateUnknown) => {
                TlsError::Rejected(format!(
                    "{tls}; the server does not accept this client certificate: use one signed by the CA it trusts (its --tls-client-ca)"
                ))
            }
            _ => TlsError::Rejected(tls.to_string()),
        })
    }

    fn from_io(error: io::Error, timeout: Duration) -> Self {
        use rustls::Error as E;
        if matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            return TlsError::TimedOut(timeout);
        }
        let Some(tls) = error.get_ref().and_then(|e| e.downcast_ref::<E>()) else {
            return TlsError::Io(error);
        };
        use rustls::CertificateError as C;
        match tls {
            E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
                TlsError::WrongName(tls.to_string())
            }
            E::InvalidCertificate(
                C::Expired
                | C::ExpiredContext { .. }
                | C::NotValidYet
                | C::NotValidYetContext { .. },
            ) => TlsError::Expired(tls.to_string()),
            E::InvalidCertificate(_) => TlsError::Untrusted(tls.to_string()),
            E::InvalidMessage(_) => TlsError::NotTls(tls.to_string()),
            _ => TlsError::Rejected(tls.to_string()),
        }
    }
}
