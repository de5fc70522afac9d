//! The local API: every route of the shared route table, served by its function's real
//! handler, with requests shaped as API Gateway (payload v2) would shape them; and the
//! OpenAPI document of it all at `GET /openapi.yaml`.

pub mod fixtures;
pub mod gateway;
pub mod mailbox;
pub mod pgbouncer;
pub mod postgres;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::Body;
use shared::config::{Config, SameSite};
use shared::db::credentials::CredentialKind;
use shared::db::statements::Plan;
use shared::error::ApiError;
use shared::function::Declaration;
use shared::routes::{self, ROUTES};
use shared::state::MailState;
use tokio::net::TcpListener;

/// The API's OpenAPI document, served at [`OPENAPI_PATH`].
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");
pub const OPENAPI_PATH: &str = "/openapi.yaml";

/// Generates, from the list of function crates `build.rs` reads off this crate's manifest,
/// the local server's [`dispatch`] and the list of what they declare ([`FUNCTIONS`]).
macro_rules! functions {
    ($($function:ident),+ $(,)?) => {
        /// What every function the local server serves declares.
        pub static FUNCTIONS: std::sync::LazyLock<Vec<Declaration>> =
            std::sync::LazyLock::new(|| vec![$($function::FUNCTION.declaration()),+]);

        /// Calls the real handler of `function`, with the part of the state its function
        /// builds.
        pub async fn dispatch(
            state: &MailState,
            function: &str,
            req: lambda_http::Request,
        ) -> Result<lambda_http::Response<Body>, lambda_http::Error> {
            $(
                if function == $function::FUNCTION.name {
                    return ($function::FUNCTION.handler)(state.as_ref(), req).await;
                }
            )+
            Err(format!("the local server has no handler for function `{function}`").into())
        }
    };
}

include!(concat!(env!("OUT_DIR"), "/functions.rs"));

/// The crate names of every function the local server serves.
pub fn function_names() -> Vec<&'static str> {
    FUNCTIONS.iter().map(|function| function.name).collect()
}

/// What `function` declares.
pub fn declared(function: &str) -> Option<&'static Declaration> {
    FUNCTIONS.iter().find(|declared| declared.name == function)
}

/// What the local server's connections prepare: every function's statements.
pub fn plan(kinds: &[CredentialKind]) -> Plan {
    plan_for(&function_names(), kinds)
}

/// Functions of the route table without a handler here; checked at start-up.
pub fn missing_handlers() -> Vec<&'static str> {
    ROUTES
        .iter()
        .map(|route| route.function)
        .filter(|function| declared(function).is_none())
        .collect()
}

/// The statements of every function in `functions`: what a server serving only them
/// prepares.
pub fn plan_for(functions: &[&str], kinds: &[CredentialKind]) -> Plan {
    functions
        .iter()
        .filter_map(|function| declared(function))
        .fold(Plan::new(), |plan, declared| {
            plan.with(declared.access.plan(kinds).statements().iter().cloned())
        })
}

/// Serves every route until the listener fails; each connection on its own task.
pub async fn serve(listener: TcpListener, state: Arc<MailState>) -> anyhow::Result<()> {
    serve_only(listener, state, function_names().into()).await
}

/// Serves the routes of `functions` (crate names) alone, as a deployment of only those
/// functions would: any other path is 404.
pub async fn serve_only(
    listener: TcpListener,
    state: Arc<MailState>,
    functions: Arc<[&'static str]>,
) -> anyhow::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        let (state, functions) = (state.clone(), functions.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let (state, functions) = (state.clone(), functions.clone());
                async move { Ok::<_, Infallible>(handle(&state, &functions, peer, req).await) }
            });
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = ?err, "connection closed");
            }
        });
    }
}

async fn handle(
    state: &MailState,
    functions: &[&str],
    peer: SocketAddr,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    // What no function serves is named and logged here, as a function's answer is by
    // `shared::http::serve`.
    let answered_here = |mut response: hyper::Response<Full<Bytes>>, method: &http::Method| {
        let request_id = shared::http::client_or_new_request_id(req.headers());
        shared::http::set_request_id(&mut response, &request_id);
        let span = tracing::info_span!(
            "request",
            request_id,
            function = "dev-server",
            route = req.uri().path(),
            method = %method
        );
        span.in_scope(|| {
            tracing::info!(status = response.status().as_u16(), "request handled");
        });
        response
    };
    if req.method() == http::Method::GET && req.uri().path() == OPENAPI_PATH {
        return answered_here(openapi_document(), req.method());
    }
    if req.method() == http::Method::GET && req.uri().path() == "/" {
        let app_url = &state.mailbox.settings.app_url;
        return answered_here(home_page(functions, app_url), req.method());
    }
    let path = req.uri().path().to_owned();
    let origin = req.headers().get(http::header::ORIGIN).cloned();
    let matching: Vec<_> = ROUTES
        .iter()
        .filter(|r| functions.contains(&r.function) && serves_path(r.path, &path))
        .collect();
    let route = matching
        .iter()
        .find(|r| r.method == req.method().as_str())
        .or_else(|| {
            matching
                .first()
                .filter(|_| req.method() == http::Method::OPTIONS)
        });
    let Some(route) = route else {
        let err = if matching.is_empty() {
            ApiError::NotFound("Not found")
        } else {
            ApiError::MethodNotAllowed
        };
        let mut response = shared::http::error_response(&err, "dev-server");
        if !matching.is_empty() {
            // RFC 9110 requires a 405 to list what the resource does answer.
            let mut allowed: Vec<&str> = matching.iter().map(|r| r.method).collect();
            allowed.push("OPTIONS");
            if let Ok(value) = http::HeaderValue::from_str(&allowed.join(", ")) {
                response.headers_mut().insert(http::header::ALLOW, value);
            }
        }
        state.cors.apply(origin.as_ref(), &mut response);
        return answered_here(into_hyper(response), req.method());
    };
    let (parts, body) = req.into_parts();

    // One byte over the cap is enough for the handler to refuse the body.
    let bytes = match Limited::new(body, shared::http::MAX_BODY_BYTES + 1)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::from(vec![b' '; shared::http::MAX_BODY_BYTES + 1]),
    };
    let request = gateway::request(route, parts, bytes.to_vec(), peer.ip());

    let response = match dispatch(state, route.function, request).await {
        Ok(response) => response,
        Err(err) => {
            let err = ApiError::Unexpected(anyhow::Error::from_boxed(err));
            shared::http::error_response(&err, route.function)
        }
    };
    into_hyper(response)
}

/// What a developer who opens the server in a browser wants to know: what it serves, where
/// the document and the mail are, and how to start the example app at `app_url`
/// (`APP_URL`, where the mailed links point). Local only.
fn home_page(functions: &[&str], app_url: &str) -> hyper::Response<Full<Bytes>> {
    let app = shared::http::escape_html(app_url);
    let port = app_port(app_url);
    let routes: String = ROUTES
        .iter()
        .filter(|route| functions.contains(&route.function))
        .map(|route| {
            format!(
                "<tr><td>{}</td><td><code>{}</code></td><td><code>functions/{}</code></td></tr>",
                route.method, route.path, route.function
            )
        })
        .collect();
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>todo-api, local server</title>\
         <style>body{{font:15px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}}\
         td{{padding:.15rem .8rem .15rem 0}}code{{font-size:.9em}}</style></head><body>\
         <h1>todo-api, local server</h1>\
         <p>The API's functions, served in one process on a local PostgreSQL. The contract is \
         <a href=\"{OPENAPI_PATH}\">openapi.yaml</a>; mail (reset and verification links) is \
         not sent but written as files under <code>target/dev-mail/</code>.</p>\
         <p>The example frontend: <code>npm ci --prefix examples/nextjs &amp;&amp; \
         PORT={port} npm --prefix examples/nextjs run dev</code>, then \
         <a href=\"{app}\">{app}</a>. That is this server's <code>APP_URL</code> (where mailed \
         links point); the app calls this API from there, so start the server with \
         <code>ALLOWED_ORIGINS={app}</code> too. To move the app, set both to its new \
         origin.</p>\
         <table><thead><tr><th align=\"left\">method</th><th align=\"left\">path</th>\
         <th align=\"left\">function</th></tr></thead><tbody>{routes}</tbody></table>\
         </body></html>"
    );
    let mut response = hyper::Response::new(Full::new(Bytes::from(page)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// The port of `url`'s origin: its own, else its scheme's.
fn app_port(url: &str) -> u16 {
    let uri: Option<http::Uri> = url.parse().ok();
    uri.as_ref()
        .and_then(|uri| {
            uri.port_u16().or(match uri.scheme_str() {
                Some("https") => Some(443),
                Some("http") => Some(80),
                _ => None,
            })
        })
        .unwrap_or(3000)
}

/// The document for API tools (schemathesis, Swagger UI); local only, not a route of the API.
fn openapi_document() -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(OPENAPI_YAML.as_bytes())));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/yaml"),
    );
    response
}

/// Whether `template` matches all of `path` (the local server has no stage prefix).
fn serves_path(template: &str, path: &str) -> bool {
    let segments = |p: &str| p.trim_matches('/').split('/').count();
    segments(template) == segments(path) && routes::match_path(template, path).is_some()
}

fn into_hyper(response: lambda_http::Response<Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

/// `config` as the local server uses it: it answers plain HTTP on 127.0.0.1, where
/// browsers other than Chromium drop a `Secure` cookie, so the session cookie leaves it out
/// there, unless `SameSite=None`, which no browser accepts without it. The functions
/// always set it.
pub fn for_plain_http_localhost(mut config: Config) -> Config {
    config.cookies.secure = config.cookies.same_site == SameSite::None;
    config
}

/// Applies every pending migration to `url`'s database.
pub async fn migrate(url: &str) -> anyhow::Result<Vec<i32>> {
    migrate_into(url, shared::config::Schema::DEFAULT).await
}

/// Applies every pending migration to `url`'s database, its tables in `schema`.
pub async fn migrate_into(url: &str, schema: &str) -> anyhow::Result<Vec<i32>> {
    let lookup = |name: &str| match name {
        shared::config::vars::DATABASE_URL => Some(url.to_owned()),
        shared::config::vars::DATABASE_SCHEMA => Some(schema.to_owned()),
        _ => None,
    };
    let settings = shared::config::DatabaseSettings::from_lookup(&lookup)?;
    let db = shared::db::Db::connect_lazy(&settings, shared::db::statements::Plan::new())?;
    shared::db::migrations::run_with(&db).await
}
