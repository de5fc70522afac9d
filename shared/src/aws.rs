//! What an AWS SDK client needs, read from the environment Lambda gives every function:
//! `AWS_REGION` and the execution role's credentials (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), the SDK's standard endpoint variables,
//! and one HTTP client (hyper 1 over the rustls/ring stack the database already uses).
//! aws-config's chain of profile, SSO and STS providers is left out: Lambda never needs it,
//! and it was a fifth of every binary.

use aws_sdk_secretsmanager::config::{Credentials, Region, SharedHttpClient};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

use crate::config::ConfigError;

/// Region, credentials and endpoint of one service's client.
pub struct AwsEnvironment {
    pub region: Region,
    pub credentials: Credentials,
    /// `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL` (a local emulator, say).
    pub endpoint: Option<String>,
}

impl AwsEnvironment {
    /// Reads the environment through `lookup`; `service_endpoint_var` is the service's own
    /// endpoint variable (`AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL_SESV2`).
    pub fn from_lookup(
        lookup: &impl Fn(&str) -> Option<String>,
        service_endpoint_var: &str,
    ) -> Result<Self, ConfigError> {
        let region = lookup("AWS_REGION")
            .or_else(|| lookup("AWS_DEFAULT_REGION"))
            .ok_or(ConfigError::Missing("AWS_REGION"))?;
        let key = lookup("AWS_ACCESS_KEY_ID").ok_or(ConfigError::Missing("AWS_ACCESS_KEY_ID"))?;
        let secret =
            lookup("AWS_SECRET_ACCESS_KEY").ok_or(ConfigError::Missing("AWS_SECRET_ACCESS_KEY"))?;
        Ok(Self {
            region: Region::new(region),
            credentials: Credentials::new(
                key,
                secret,
                lookup("AWS_SESSION_TOKEN"),
                None,
                "environment",
            ),
            endpoint: lookup(service_endpoint_var).or_else(|| lookup("AWS_ENDPOINT_URL")),
        })
    }
}

/// The SDK's HTTP client: hyper 1 over the rustls/ring stack the database already uses.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}
