//! TLS settings for the server and the client: certificates and keys read
//! from PEM files (`rustls-pki-types`), throwaway certificates (`rcgen`),
//! rustls with the `ring` provider, TLS 1.2 and 1.3 with rustls's default
//! suites. Everything here runs once, at start; a mistake is an error that
//! names the file and says what to do. The record work on a connection,
//! once for the server, the relay and the client, is `TlsIo` (`record_io.rs`).

mod insecure;
mod record_io;

pub(crate) use record_io::TlsIo;

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, Connection, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// The one crypto provider: ring builds with only the Rust toolchain and cc.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS server's configuration, and what to log about it.
pub(crate) struct ServerTls {
    pub config: Arc<ServerConfig>,
    /// SHA-256 of the leaf certificate, as `openssl x509 -fingerprint -sha256` shows it.
    pub fingerprint: String,
    /// Where the certificate came from, for the log.
    pub source: String,
}

/// Where the server's certificate comes from.
pub(crate) enum ServerIdentity<'a> {
    Files {
        cert: &'a Path,
        key: &'a Path,
    },
    /// A throwaway certificate for localhost, 127.0.0.1, ::1 and `names`.
    SelfSigned {
        names: &'a [String],
        save: Option<&'a Path>,
    },
}

/// Builds the server's TLS configuration; with `client_ca`, clients must
/// show a certificate signed by it (mutual TLS).
pub(crate) fn server(
    identity: ServerIdentity<'_>,
    client_ca: Option<&Path>,
) -> Result<ServerTls, String> {
    let (chain, key, source) = match identity {
        ServerIdentity::Files { cert, key } => (
            read_certs(cert, "--tls-cert")?,
            read_key(key)?,
            format!("certificate from {}", cert.display()),
        ),
        ServerIdentity::SelfSigned { names, save } => {
            let (chain, key, pem) = self_signed(names)?;
            if let Some(path) = save {
                std::fs::write(path, pem)
                    .map_err(|e| format!("cannot write --tls-save-cert {}: {e}", path.display()))?;
            }
            let mut source = String::from("self-signed certificate for localhost, 127.0.0.1, ::1");
            for name in names {
                let _ = write!(source, ", {name}");
            }
            if let Some(path) = save {
                let _ = write!(source, " (saved to {})", path.display());
            }
            (chain, key, source)
        }
    };
    let fingerprint = chain.first().map(|leaf| sha256(leaf)).unwrap_or_default();
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let roots = roots(path, "--tls-client-ca")?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| format!("--tls-client-ca {}: {e}", path.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(chain, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => {
            "the key does not match the certificate: give --tls-key the key the certificate was made for".to_owned()
        }
        e => format!("the certificate or key cannot be used: {e}"),
    })?;
    Ok(ServerTls {
        config: Arc::new(config),
        fingerprint,
        source,
    })
}

/// What a client checks the server's certificate against.
pub(crate) enum Trust<'a> {
    /// The CA (or self-signed certificate) in this PEM file.
    Ca(&'a Path),
    /// Nothing: `--insecure`.
    Anything,
    /// The system's CA store, as curl and `openssl s_client` trust it:
    /// the PEM bundle at `SSL_CERT_FILE` (or the files in `SSL_CERT_DIR`)
    /// when set, else the system's (`/etc/ssl/certs/ca-certificates.crt`
    /// and the usual places, found by `rustls-native-certs`).
    System,
}

/// Builds the client's TLS configuration, with a client certificate for mutual TLS.
pub(crate) fn client(
    trust: Trust<'_>,
    identity: Option<(&Path, &Path)>,
) -> Result<Arc<ClientConfig>, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let builder = match trust {
        Trust::Ca(path) => builder.with_root_certificates(roots(path, "--tls-ca")?),
        Trust::System => builder.with_root_certificates(system_roots()),
        Trust::Anything => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(insecure::AcceptAnyCertificate::new(
                provider(),
            ))),
    };
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(read_certs(cert, "--tls-cert")?, read_key(key)?)
            .map_err(|e| format!("the client certificate or key cannot be used: {e}"))?,
    };
    Ok(Arc::new(config))
}

/// The name the client expects in the server's certificate: `--tls-name`,
/// else the host it connects to (a name or an IP address).
pub(crate) fn server_name(name: &str) -> Result<ServerName<'static>, String> {
    let name = name.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(name.to_owned())
        .map_err(|_| format!("{name:?} is not a host name or IP address to check the certificate against; give one with --tls-name"))
}

/// The TLS version a handshake agreed, as `TLSv1.3`.
pub(crate) fn version(conn: &Connection) -> String {
    conn.protocol_version()
        .map(|v| format!("{v:?}").replace("TLSv1_", "TLSv1."))
        .unwrap_or_default()
}

/// The cipher suite a handshake agreed, as `TLS13_AES_256_GCM_SHA384`.
pub(crate) fn cipher(conn: &Connection) -> String {
    conn.negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_default()
}

fn read_certs(path: &Path, flag: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let file = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(flag, path, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(flag, path, &e))?;
    if certs.is_empty() {
        return Err(format!(
            "{flag} {file} holds no certificate (no -----BEGIN CERTIFICATE----- block); give a PEM certificate file"
        ));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => format!(
            "--tls-key {} holds no private key (no -----BEGIN PRIVATE KEY----- block); give the PEM key of the certificate",
            path.display()
        ),
        e => pem_error("--tls-key", path, &e),
    })
}

fn roots(path: &Path, flag: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(path, flag)? {
        roots.add(cert).map_err(|e| {
            format!(
                "{flag} {}: not a usable CA certificate: {e}",
                path.display()
            )
        })?;
    }
    Ok(roots)
}

/// The system's CA certificates. What cannot be read is left out: a
/// server they do not vouch for then fails verification (exit 9), whose
/// message says how to trust it.
fn system_roots() -> RootCertStore {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    roots
}

fn pem_error(flag: &str, path: &Path, error: &rustls_pki_types::pem::Error) -> String {
    match error {
        rustls_pki_types::pem::Error::Io(e) => {
            format!("cannot read {flag} {}: {e}", path.display())
        }
        e => format!("{flag} {} is not valid PEM: {e}", path.display()),
    }
}

type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String);

/// A throwaway certificate (ECDSA P-256) and its key, and the certificate as PEM.
fn self_signed(names: &[String]) -> Result<Identity, String> {
    let mut all: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).into();
    all.extend(names.iter().cloned());
    let certified = rcgen::generate_simple_self_signed(all)
        .map_err(|e| format!("cannot make a self-signed certificate: {e}"))?;
    let key = PrivateKeyDer::try_from(certified.signing_key.serialize_der())
        .map_err(|e| format!("cannot use the self-signed key: {e}"))?;
    let pem = certified.cert.pem();
    Ok((vec![certified.cert.der().clone()], key, pem))
}

/// `AB:CD:…`, 32 bytes of SHA-256.
fn sha256(der: &CertificateDer<'_>) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der.as_ref());
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_server_config_and_its_fingerprint() {
        let dir = std::env::temp_dir().join(format!("tcpack-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let saved = dir.join("cert.pem");
        let names = vec!["device.test".to_owned()];
        let tls = server(
            ServerIdentity::SelfSigned {
                names: &names,
                save: Some(&saved),
            },
            None,
        )
        .unwrap();
        assert_eq!(tls.fingerprint.len(), 32 * 3 - 1, "{}", tls.fingerprint);
        assert!(tls.source.contains("device.test"), "{}", tls.source);
        let pem = std::fs::read_to_string(&saved).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        // The saved certificate is one a client can trust.
        assert!(client(Trust::Ca(&saved), None).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_files_say_which_and_what_to_do() {
        let dir = std::env::temp_dir().join(format!("tcpack-tls-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not pem\n").unwrap();
        let files = |cert, key| ServerIdentity::Files { cert, key };
        let missing = Path::new("/nonexistent/cert.pem");
        let error = server(files(missing, missing), None)
            .err()
            .unwrap_or_default();
        assert!(
            error.starts_with("cannot read --tls-cert /nonexistent/cert.pem"),
            "{error}"
        );
        let error = server(files(&empty, &empty), None)
            .err()
            .unwrap_or_default();
        assert!(error.contains("holds no certificate"), "{error}");
        assert!(server_name("not a name!").is_err());
        assert!(server_name("[::1]").is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
