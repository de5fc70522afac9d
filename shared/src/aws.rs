//! What an AWS SDK client needs, read from the environment Lambda gives every function:
//! `AWS_REGION` and the execution role's credentials (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), the SDK's standard endpoint variables,
//! and one HTTP client (hyper 1, HTTP/1.1, over the rustls/ring stack the database already
//! uses).
//! aws-config's chain of profile, SSO and STS providers is left out: Lambda never needs it,
//! and it was a fifth of every binary.

use std::sync::OnceLock;
use std::time::Duration;

use aws_sdk_secretsmanager::config::{Credentials, Region, SharedHttpClient};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::rt::TokioExecutor;

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
        let region = lookup(crate::config::vars::AWS_REGION)
            .or_else(|| lookup(crate::config::vars::AWS_DEFAULT_REGION))
            .ok_or(ConfigError::Missing(crate::config::vars::AWS_REGION))?;
        let key = lookup(crate::config::vars::AWS_ACCESS_KEY_ID)
            .ok_or(ConfigError::Missing(crate::config::vars::AWS_ACCESS_KEY_ID))?;
        let secret = lookup(crate::config::vars::AWS_SECRET_ACCESS_KEY).ok_or(
            ConfigError::Missing(crate::config::vars::AWS_SECRET_ACCESS_KEY),
        )?;
        Ok(Self {
            region: Region::new(region),
            credentials: Credentials::new(
                key,
                secret,
                lookup(crate::config::vars::AWS_SESSION_TOKEN),
                None,
                "environment",
            ),
            endpoint: lookup(service_endpoint_var)
                .or_else(|| lookup(crate::config::vars::AWS_ENDPOINT_URL)),
        })
    }

    /// The configuration every SDK client here is built from: this environment, the
    /// latest behavior version, and the one HTTP client ([`https_client`]).
    pub fn sdk_config(self) -> aws_types::SdkConfig {
        let mut config = aws_types::SdkConfig::builder()
            .behavior_version(
                aws_smithy_runtime_api::client::behavior_version::BehaviorVersion::latest(),
            )
            .http_client(https_client())
            .region(self.region)
            .credentials_provider(aws_types::sdk_config::SharedCredentialsProvider::new(
                self.credentials,
            ));
        if let Some(endpoint) = self.endpoint {
            config = config.endpoint_url(endpoint);
        }
        config.build()
    }
}

/// The SDK's HTTP client: hyper 1 over HTTP/1.1 and the rustls/ring stack the database
/// and the JWKS fetch already use. AWS's own client (aws-smithy-http-client) brings HTTP/2,
/// a tower stack and its own connector on top: half a megabyte of every function, for
/// the one or two calls a cold start makes.
pub fn https_client() -> SharedHttpClient {
    SharedHttpClient::new(Http1Client::default())
}

type HyperClient = Client<hyper_rustls::HttpsConnector<TcpConnector>, SdkBody>;

/// One hyper client (and so one connection pool) for every connector the SDK asks for;
/// built on the first ask, with the connect timeout the SDK's settings give.
#[derive(Debug, Default)]
struct Http1Client {
    client: OnceLock<Result<HyperClient, String>>,
}

impl HttpClient for Http1Client {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let client = self
            .client
            .get_or_init(|| {
                build_client(settings.connect_timeout()).map_err(|err| format!("{err:#}"))
            })
            .clone();
        SharedHttpConnector::new(Http1Connector {
            client,
            read_timeout: settings.read_timeout(),
        })
    }
}

fn build_client(connect_timeout: Option<Duration>) -> anyhow::Result<HyperClient> {
    let mut http = TcpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(connect_timeout);
    http.set_nodelay(true);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(crate::tls::web_client_config()?)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

#[derive(Debug)]
struct Http1Connector {
    /// The client, or why it could not be built (no TLS roots, say): every call says so.
    client: Result<HyperClient, String>,
    read_timeout: Option<Duration>,
}

impl HttpConnector for Http1Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let client = client.map_err(|err| ConnectorError::other(err.into(), None))?;
            let request = request
                .try_into_http1x()
                .map_err(|err| ConnectorError::user(err.into()))?;
            let sent = client.request(request);
            let response = match read_timeout {
                Some(limit) => tokio::time::timeout(limit, sent).await.map_err(|_| {
                    ConnectorError::timeout(format!("no response within {limit:?}").into())
                })?,
                None => sent.await,
            }
            // Connection refused, reset, TLS failure: transient, so the SDK may retry.
            .map_err(|err| ConnectorError::io(err.into()))?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|err| ConnectorError::other(err.into(), None))
        })
    }
}
