//! TLS to PostgreSQL through rustls (ring provider, so no C crypto library is built), in
//! the two ways `sslmode` asks for: verified (`require`, `verify-ca`, `verify-full`: the
//! chain to webpki's roots or `DATABASE_CA_FILE`, and the host name), or, as libpq does for
//! `allow` and `prefer`, encrypted without checking who answers.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// The connector for `sslmode`: verifying when `verify`, else accepting any certificate.
pub fn connector(verify: bool, extra_ca_file: Option<&Path>) -> anyhow::Result<MakeRustlsConnect> {
    let provider = Arc::new(postgres_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let config = if verify {
        builder
            .with_root_certificates(crate::tls::roots(extra_ca_file)?)
            .with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(UnverifiedServer(provider)))
            .with_no_client_auth()
    };
    // PostgreSQL 17 refuses a direct TLS connection (`sslnegotiation=direct`) whose client
    // names no protocol; servers before 17 ignore the extension.
    let mut config = config;
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(MakeRustlsConnect::new(config))
}

/// ring's provider with P-256 as the first key exchange group, the one a TLS 1.3 client
/// sends a key share for. PostgreSQL before 18 accepts only its `ssl_ecdh_curve`
/// (default `prime256v1`), so leading with X25519 costs a HelloRetryRequest: a whole
/// round trip of every connection. Every TLS 1.3 server must support P-256 (RFC 8446,
/// 9.1), Neon's included.
fn postgres_provider() -> CryptoProvider {
    use rustls::crypto::ring::kx_group::{SECP256R1, SECP384R1, X25519};
    CryptoProvider {
        kx_groups: vec![SECP256R1, X25519, SECP384R1],
        ..rustls::crypto::ring::default_provider()
    }
}

/// `sslmode=allow|prefer` as libpq has it: the connection is encrypted, the certificate is
/// not checked (anyone on the path could downgrade these modes to plaintext anyway, so a
/// check would protect nothing). The handshake's own signatures are still verified.
#[derive(Debug)]
struct UnverifiedServer(Arc<CryptoProvider>);

impl ServerCertVerifier for UnverifiedServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// One line saying what to do about a failed connection, for the start-up log: the cause
/// as it came, with the fix for the TLS failures people meet first.
pub fn explain_connect_error(err: &anyhow::Error) -> String {
    let cause = format!("{err:#}");
    let fix = if cause.contains("UnknownIssuer") || cause.contains("invalid peer certificate") {
        "the server's certificate is not trusted: give its CA in DATABASE_CA_FILE, or use \
         sslmode=prefer for a local server you trust (Neon's certificates are trusted as is)"
    } else if cause.contains("NotValidForName") || cause.contains("not valid for name") {
        "the certificate does not name this host: connect by the host name on the \
         certificate (Neon: the endpoint's host name, never an IP address)"
    } else if cause.contains("does not support TLS") {
        "the server offers no TLS but the sslmode demands it: turn TLS on in the server, or \
         use sslmode=disable for a local server"
    } else {
        "check the host, port, credentials and sslmode"
    };
    format!("DATABASE_URL: cannot connect ({cause}); {fix}")
}
