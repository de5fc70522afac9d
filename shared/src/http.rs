//! HTTP plumbing written once for every handler: JSON bodies in (64 KiB cap) and out, the
//! error → response mapping, CORS, and path and query parameters wherever they come from.

use std::future::Future;
use std::net::IpAddr;

use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, ORIGIN, RETRY_AFTER};
use http::{Method, StatusCode};
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::{Body, Request, RequestExt, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize as _, Serialize};
use serde_json::json;
use tracing::Instrument as _;

use crate::cors::Cors;
use crate::error::ApiError;
use crate::routes;

pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The header that names a request, in both directions: a client (or its proxy) may name
/// its request, and every answer says which id its log lines carry.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id a request is known by in the log and in its answer: in Lambda, API Gateway's
/// request id; elsewhere the client's `x-request-id` when well-formed (see
/// [`is_well_formed_request_id`]), else a new UUID.
pub fn request_id(req: &Request) -> String {
    let gateway = match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) => {
            context.request_id.clone()
        }
        #[allow(unreachable_patterns)]
        _ => None,
    };
    match gateway.filter(|id| !id.is_empty()) {
        Some(id) => id,
        None => client_or_new_request_id(req.headers()),
    }
}

/// The client's own `x-request-id` when it is well-formed, else a new one: what names a
/// request that no gateway named.
pub fn client_or_new_request_id(headers: &http::HeaderMap) -> String {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_well_formed_request_id(id))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// 1 to 128 letters, digits, `-`, `_`, `.` or `:`: what tracing systems send, and nothing
/// that could forge a log line or a header.
pub fn is_well_formed_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b':'))
}

/// `text` safe inside HTML text and attribute values.
pub fn escape_html(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// Makes `response` name its request.
pub fn set_request_id<B>(response: &mut http::Response<B>, request_id: &str) {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
}

/// Runs `handle` for `req` as the function `function` (its crate name): preflights are
/// answered here, path parameters are filled from the raw path when API Gateway did not
/// fill them, errors become their JSON response (5xx causes logged), and CORS headers are
/// added for allowed origins. Every line logged meanwhile, the request's own line and its
/// audit events included, carries its [`request_id`], which the answer echoes in
/// `x-request-id`. Infallible: whatever happens, the client gets a JSON answer.
pub async fn serve<F, Fut>(
    cors: &Cors,
    function: &'static str,
    req: Request,
    handle: F,
) -> Result<Response<Body>, lambda_http::Error>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>>,
{
    let origin = req.headers().get(ORIGIN).cloned();
    let request_id = request_id(&req);
    let route = routes::by_function(function);
    let span = tracing::info_span!(
        "request",
        request_id,
        function,
        route = route.map_or("", |route| route.path),
        method = %req.method()
    );
    let req = with_path_parameters(req, route);
    let started = std::time::Instant::now();
    let mut response = async {
        if req.method() == Method::OPTIONS {
            empty(StatusCode::NO_CONTENT)
        } else if req.body().len() > MAX_BODY_BYTES {
            error_response(&ApiError::PayloadTooLarge, function)
        } else if !req.body().is_empty() && !is_json(req.headers().get(CONTENT_TYPE)) {
            // A cross-site form or no-cors fetch can send any body without a preflight,
            // but not this type: nothing but JSON is read.
            error_response(&ApiError::UnsupportedMediaType, function)
        } else {
            match handle(req).await {
                Ok(response) => response,
                Err(err) => error_response(&err, function),
            }
        }
    }
    .instrument(span.clone())
    .await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request handled"
        )
    });
    cors.apply(origin.as_ref(), &mut response);
    set_request_id(&mut response, &request_id);
    Ok(response)
}

/// `req` with its route's path parameters, matched from the raw path when API Gateway did
/// not fill them (Function URLs, `cargo lambda watch` without its router), so that every
/// layer below reads them in one place, [`path_param`].
fn with_path_parameters(req: Request, route: Option<&routes::Route>) -> Request {
    let filled = req
        .path_parameters_ref()
        .is_some_and(|params| !params.is_empty());
    let Some(route) = route.filter(|route| !filled && route.path.contains('{')) else {
        return req;
    };
    match routes::match_path(route.path, req.uri().path()) {
        Some(params) => {
            let params: std::collections::HashMap<String, String> = params.into_iter().collect();
            req.with_path_parameters(params)
        }
        None => req,
    }
}

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(body) => with_json_type(status, Body::Text(body)),
        Err(err) => error_response(&ApiError::Unexpected(err.into()), "serialise"),
    }
}

/// Whether a `Content-Type` says `application/json` (parameters such as a charset allowed).
fn is_json(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"))
}

/// Every response of the API: JSON, and never stored by a cache (they carry tokens and
/// per-user data).
fn with_json_type(status: StatusCode, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn empty(status: StatusCode) -> Response<Body> {
    with_json_type(status, Body::Empty)
}

pub fn error_response(err: &ApiError, function: &str) -> Response<Body> {
    if let ApiError::Unexpected(cause) = err {
        tracing::error!(function, error = ?cause, "request failed");
    }
    let mut response = with_json_type(
        err.status(),
        Body::Text(json!({ "error": err.to_string() }).to_string()),
    );
    if let ApiError::TooManyRequests { retry_after_secs } = err {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(*retry_after_secs));
    }
    response
}

/// The request body as `T`. Not JSON, not an object, or a field of the wrong type: 400.
/// A missing body reads as `{}`, so each field's own "is required" message answers.
pub fn parse_json<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let bytes: &[u8] = req.body();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    let value: serde_json::Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Object(Default::default())
    } else {
        serde_json::from_slice(bytes)
            .map_err(|_| ApiError::validation("Request body must be valid JSON"))?
    };
    if !value.is_object() {
        return Err(ApiError::validation("Request body must be a JSON object"));
    }
    serde_json::from_value(value)
        .map_err(|err| ApiError::validation(format!("Invalid request body: {err}")))
}

/// The path parameter `name` (filled by API Gateway, or by [`serve`] from the raw path).
pub fn path_param(req: &Request, name: &str) -> Option<String> {
    req.path_parameters_ref()
        .and_then(|params| params.first(name))
        .map(str::to_owned)
}

/// For optional body fields where `null` and absent mean different things (PATCH): use as
/// `#[serde(default, deserialize_with = "distinguish_null_from_absent")]` on an
/// `Option<Option<T>>`; absent is `None`, `null` is `Some(None)`.
pub fn distinguish_null_from_absent<'de, D, T>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The query parameters, from the URI's own query string (lambda_http puts API Gateway's
/// raw query string there, so this reads the same in Lambda and locally).
pub fn query_params(req: &Request) -> QueryMap {
    req.uri()
        .query()
        .unwrap_or_default()
        .parse()
        .unwrap_or_default()
}

/// One query parameter; read several from one [`query_params`] instead.
pub fn query_param(req: &Request, name: &str) -> Option<String> {
    query_params(req).first(name).map(str::to_owned)
}

/// The header a trusted proxy authenticates itself with (`TRUSTED_PROXY_SECRET`).
pub const PROXY_SECRET_HEADER: &str = "x-proxy-secret";
/// The header a trusted proxy names its client's address in.
pub const CLIENT_IP_HEADER: &str = "x-client-ip";

/// The client's address, for throttling and audit lines: the peer's (API Gateway's
/// `requestContext.http.sourceIp`), unless the request comes through the operator's own
/// proxy, which proves it with `TRUSTED_PROXY_SECRET` in [`PROXY_SECRET_HEADER`] and names
/// its client in [`CLIENT_IP_HEADER`]. `X-Forwarded-For` is never read: anyone can send it.
pub fn client_ip(req: &Request, trusted_proxy_secret: Option<&SecretString>) -> Option<IpAddr> {
    let forwarded = trusted_proxy_secret
        .filter(|secret| {
            req.headers().get(PROXY_SECRET_HEADER).is_some_and(|sent| {
                equal_in_constant_time(sent.as_bytes(), secret.expose_secret().as_bytes())
            })
        })
        .and_then(|_| req.headers().get(CLIENT_IP_HEADER))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok());
    forwarded.or_else(|| source_ip(req).and_then(|ip| ip.parse().ok()))
}

/// Whether `a` and `b` are equal, in a time that depends on their lengths alone.
fn equal_in_constant_time(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// The peer's address: API Gateway's `requestContext.http.sourceIp`.
pub fn source_ip(req: &Request) -> Option<String> {
    match req.request_context_ref()? {
        lambda_http::request::RequestContext::ApiGatewayV2(context) => {
            context.http.source_ip.clone()
        }
        #[allow(unreachable_patterns)]
        _ => None,
    }
}
