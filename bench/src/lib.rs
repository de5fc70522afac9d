//! Shared plumbing of the benchmark binaries: a private PostgreSQL with a migrated
//! database, the application state on it, API Gateway-shaped requests, and percentile
//! summaries.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2httpRequestContext, ApiGatewayV2httpRequestContextHttpDescription,
};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use serde_json::Value;

/// p50 and p99 of a set of samples.
#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    pub p50: Duration,
    pub p99: Duration,
}

impl Percentiles {
    pub fn of(samples: &mut [Duration]) -> Self {
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
        Self {
            p50: at(0.50),
            p99: at(0.99),
        }
    }
}

/// Microseconds with one decimal, for tables.
pub fn micros(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1e6)
}

/// The signing secret of every benchmark run (never a deployment's).
pub const SECRET: &str = "benchmark-secret-that-is-at-least-32-characters";

/// A fresh, migrated database: on `BENCH_DATABASE_URL`'s server if set, else on a private
/// cluster under `target/bench-db/<pid>` (so benchmarks may run side by side) that is
/// stopped and removed when this is dropped.
pub struct BenchDb {
    pub url: String,
    cluster: Option<(dev_server::postgres::Cluster, std::path::PathBuf)>,
}

impl BenchDb {
    pub async fn start() -> anyhow::Result<Self> {
        let (admin, cluster) = match std::env::var("BENCH_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => (url, None),
            _ => {
                let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../target/bench-db")
                    .join(std::process::id().to_string());
                let cluster = dev_server::postgres::Cluster::init(&dir)?;
                cluster.start(&[])?;
                (cluster.url("postgres"), Some((cluster, dir)))
            }
        };
        let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
        let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        let url = match admin.rsplit_once('/') {
            Some((base, rest)) => match rest.split_once('?') {
                Some((_, query)) => format!("{base}/{name}?{query}"),
                None => format!("{base}/{name}"),
            },
            None => anyhow::bail!("BENCH_DATABASE_URL needs a /database part"),
        };
        dev_server::migrate(&url).await?;
        Ok(Self { url, cluster })
    }

    /// The application state a function would build at its cold start, on this database.
    pub fn state(&self, overrides: &[(&str, &str)]) -> anyhow::Result<shared::AppState> {
        let lookup = |name: &str| {
            overrides
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
                .or_else(|| match name {
                    "DATABASE_URL" => Some(self.url.clone()),
                    "BETTER_AUTH_SECRET" => Some(SECRET.to_owned()),
                    _ => None,
                })
        };
        shared::AppState::new(shared::config::Config::from_lookup(lookup)?)
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        if let Some((cluster, dir)) = &self.cluster {
            let _ = cluster.stop();
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A request as API Gateway (payload v2) hands it to `function`: path parameters, route
/// key and source IP filled in, as the local server does.
pub fn gateway_request(
    function: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> anyhow::Result<lambda_http::Request> {
    let route = shared::routes::by_function(function)
        .with_context(|| format!("no route for {function}"))?;
    let params: HashMap<String, String> = shared::routes::match_path(route.path, path)
        .with_context(|| format!("{path} is not a path of {}", route.path))?
        .into_iter()
        .collect();
    let mut builder = http::Request::builder().method(route.method).uri(path);
    if let Some(token) = token {
        builder = builder.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if body.is_some() {
        builder = builder.header(http::header::CONTENT_TYPE, "application/json");
    }
    let body = body.map_or(Body::Empty, |body| Body::Text(body.to_string()));
    let mut http_description = ApiGatewayV2httpRequestContextHttpDescription::default();
    http_description.method = route.method.parse()?;
    http_description.path = Some(path.to_owned());
    http_description.source_ip = Some("127.0.0.1".to_owned());
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.http = http_description;
    context.route_key = Some(format!("{} {}", route.method, route.path));
    Ok(builder
        .body(body)?
        .with_raw_http_path(path)
        .with_path_parameters(params)
        .with_request_context(RequestContext::ApiGatewayV2(context)))
}
