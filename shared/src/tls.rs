//! TLS client configurations outside the database's own (`db::tls`): the roots every
//! verified connection trusts, and the HTTPS client of the AWS SDK and of JWKS fetches.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// A verifying client configuration for HTTPS (a JWKS document): webpki's roots.
pub fn web_client_config() -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots(None)?)
        .with_no_client_auth())
}

/// webpki's roots (what Neon's certificates chain to) plus an optional PEM file of more.
pub fn roots(extra_ca_file: Option<&Path>) -> anyhow::Result<RootCertStore> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let Some(path) = extra_ca_file else {
        return Ok(roots);
    };
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("DATABASE_CA_FILE {}: cannot read", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("DATABASE_CA_FILE {}: not PEM certificates", path.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "DATABASE_CA_FILE {}: holds no certificate",
        path.display()
    );
    for cert in certs {
        roots
            .add(cert)
            .with_context(|| format!("DATABASE_CA_FILE {}: bad certificate", path.display()))?;
    }
    Ok(roots)
}
