//! Certificates and keys from files into a rustls server configuration.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Where the broker's certificate chain and key are, and (optionally) the CA that
/// client certificates must chain to.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// When set, a client certificate, if presented, must chain to one of these CAs.
    pub ca_file: Option<PathBuf>,
    /// With `ca_file`: refuse clients that present no certificate (RabbitMQ's
    /// `fail_if_no_peer_cert`). Without it, a certificate is optional.
    pub require_client_cert: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("cannot read TLS certificates from {path}: {reason}")]
    Certs { path: PathBuf, reason: String },
    #[error("{path} holds no PEM certificate")]
    NoCerts { path: PathBuf },
    #[error("cannot read the TLS private key from {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("the CA file {path} cannot be used for client verification: {reason}")]
    Ca { path: PathBuf, reason: String },
    #[error(
        "tls.require_client_cert needs tls.ca_file (the CA client certificates are checked against)"
    )]
    RequireWithoutCa,
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let err = |reason: String| TlsConfigError::Certs {
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsConfigError::NoCerts {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// Builds the server configuration shared by every TLS listener (ring provider, TLS
/// 1.2 and 1.3, rustls' safe defaults). `alpn` lists the protocols to offer (HTTP sets
/// `http/1.1`; the broker protocols negotiate none, as their incumbents).
pub fn server_config(
    files: &TlsFiles,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ServerConfig>, TlsConfigError> {
    // ring, not aws-lc-rs: the latter needs cmake to build, which CI machines lack.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certs(&files.cert_file)?;
    let key = PrivateKeyDer::from_pem_file(&files.key_file).map_err(|e| TlsConfigError::Key {
        path: files.key_file.clone(),
        reason: e.to_string(),
    })?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match &files.ca_file {
        None if files.require_client_cert => return Err(TlsConfigError::RequireWithoutCa),
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in certs(ca)? {
                roots.add(c).map_err(|e| TlsConfigError::Ca {
                    path: ca.clone(),
                    reason: e.to_string(),
                })?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            let verifier = if files.require_client_cert {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            let verifier = verifier.build().map_err(|e| TlsConfigError::Ca {
                path: ca.clone(),
                reason: e.to_string(),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}
