//! CORS: the allow-list of origins (`ALLOWED_ORIGINS`) and the headers it puts on answers.

use http::header::{HeaderValue, VARY};
use lambda_http::{Body, Response};

/// The CORS allow-list. Listed origins get `Access-Control-Allow-Origin: <origin>` with
/// credentials; others get no CORS header at all. `*` is never sent.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    allowed: Vec<String>,
}

impl Cors {
    pub fn new(allowed: Vec<String>) -> Self {
        Self { allowed }
    }

    /// Whether `origin` (a request's `Origin` header) is on the allow-list.
    pub fn allows(&self, origin: Option<&HeaderValue>) -> bool {
        origin
            .and_then(|origin| origin.to_str().ok())
            .is_some_and(|origin| self.allowed.iter().any(|allowed| allowed == origin))
    }

    pub fn apply(&self, origin: Option<&HeaderValue>, response: &mut Response<Body>) {
        let headers = response.headers_mut();
        headers.append(VARY, HeaderValue::from_static("Origin"));
        let Some(origin) = origin.filter(|origin| self.allows(Some(origin))) else {
            return;
        };
        headers.insert("access-control-allow-origin", origin.clone());
        headers.insert(
            "access-control-allow-credentials",
            HeaderValue::from_static("true"),
        );
        headers.insert(
            "access-control-allow-headers",
            HeaderValue::from_static("Authorization, Content-Type"),
        );
        headers.insert(
            "access-control-allow-methods",
            HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
        );
        headers.insert("access-control-max-age", HeaderValue::from_static("600"));
    }
}
