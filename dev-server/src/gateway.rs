//! Requests shaped as API Gateway (HTTP API, payload v2) hands them to a function: path
//! parameters, route key, source IP and request id filled in. The local server, the tests and the
//! benchmarks all build them here.

use std::collections::HashMap;
use std::net::IpAddr;

use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2httpRequestContext, ApiGatewayV2httpRequestContextHttpDescription,
};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use shared::routes::{self, Route};

/// The event `route`'s function receives for a request with `parts` and `body` from
/// `source_ip`.
pub fn request(
    route: &Route,
    parts: http::request::Parts,
    body: Vec<u8>,
    source_ip: IpAddr,
) -> lambda_http::Request {
    let path = parts.uri.path().to_owned();
    let params: HashMap<String, String> = routes::match_path(route.path, &path)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let mut http_description = ApiGatewayV2httpRequestContextHttpDescription::default();
    http_description.method = parts.method.clone();
    http_description.path = Some(path.clone());
    http_description.source_ip = Some(source_ip.to_string());
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.http = http_description;
    // As API Gateway names each request (here: the client's own id when well-formed).
    context.request_id = Some(shared::http::client_or_new_request_id(&parts.headers));
    context.route_key = Some(format!("{} {}", route.method, route.path));
    let body = if body.is_empty() {
        Body::Empty
    } else {
        Body::from(body)
    };
    lambda_http::Request::from_parts(parts, body)
        .with_raw_http_path(path)
        .with_path_parameters(params)
        .with_request_context(RequestContext::ApiGatewayV2(context))
}
