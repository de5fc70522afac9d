//! The cookies of a browser app and the signed-in answer: the session cookie (the token,
//! out of reach of page scripts), the known-device cookie, reading them from a request,
//! and the body and cookies of a successful signup or signin.

use ::http::StatusCode;
use ::http::header::{COOKIE, HeaderValue, SET_COOKIE};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::auth::IssuedToken;
use crate::db::throttle::MAX_PRESENTED_DEVICES;
use crate::db::users::{DEVICE_LIFETIME_SECS, User};
use crate::{AppState, http};

/// The session cookie of a browser app: the token itself, out of reach of page scripts.
pub const SESSION_COOKIE: &str = "todo_session";

/// The known-device cookie of a browser app: its device token, sent to the auth routes
/// only, out of reach of page scripts.
pub const DEVICE_COOKIE: &str = "todo_device";

/// The first value of cookie `name`, from every `Cookie` header of `req`.
pub(super) fn cookie<'r>(req: &'r Request, name: &'r str) -> Option<&'r str> {
    cookies(req, name).next()
}

/// Every non-empty value of cookie `name`, from every `Cookie` header of `req`, in order.
fn cookies<'r>(req: &'r Request, name: &'r str) -> impl Iterator<Item = &'r str> {
    req.headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value)
}

/// The device tokens a request presents: `device_token` of its body (`in_body`), then
/// every device cookie it carries (a sibling subdomain can plant one in front of the
/// owner's), each once, at most [`MAX_PRESENTED_DEVICES`]. Which of them is a known
/// device of the account is the statement's business.
pub fn presented_devices(req: &Request, in_body: Option<String>) -> Vec<String> {
    let mut tokens: Vec<String> = Vec::new();
    let presented = in_body
        .into_iter()
        .filter(|token| !token.is_empty())
        .chain(cookies(req, DEVICE_COOKIE).map(str::to_owned));
    for token in presented {
        if tokens.len() == MAX_PRESENTED_DEVICES {
            break;
        }
        if !tokens.contains(&token) {
            tokens.push(token);
        }
    }
    tokens
}

/// The body of a successful signup or signin.
#[derive(Debug, Serialize)]
struct SignedIn<'a> {
    user: &'a User,
    token: &'a str,
    device_token: &'a str,
}

/// The answer to a successful signup (201) or signin (200): the user, its new token and
/// its device token, in the body for bearer clients and in cookies for browsers.
pub fn signed_in(
    state: &AppState,
    status: StatusCode,
    user: &User,
    issued: &IssuedToken,
    device_token: &str,
) -> Response<Body> {
    let mut response = http::json(
        status,
        &SignedIn {
            user,
            token: &issued.token,
            device_token,
        },
    );
    let max_age = state.config.token_lifetime.as_secs();
    set_session_cookie(state, &mut response, &issued.token, max_age);
    let secure = if state.config.cookies.secure {
        "; Secure"
    } else {
        ""
    };
    set_cookie(
        &mut response,
        &format!(
            "{DEVICE_COOKIE}={device_token}; HttpOnly{secure}; SameSite=Lax; Path=/api/auth; \
             Max-Age={DEVICE_LIFETIME_SECS}"
        ),
    );
    response
}

/// Makes `response` clear the session cookie (same attributes, `Max-Age=0`).
pub fn clear_session_cookie(state: &AppState, response: &mut Response<Body>) {
    set_session_cookie(state, response, "", 0);
}

fn set_session_cookie(state: &AppState, response: &mut Response<Body>, value: &str, max_age: u64) {
    let settings = state.config.cookies;
    let secure = if settings.secure { "; Secure" } else { "" };
    set_cookie(
        response,
        &format!(
            "{SESSION_COOKIE}={value}; HttpOnly{secure}; SameSite={}; Path=/api; Max-Age={max_age}",
            settings.same_site.as_str()
        ),
    );
}

fn set_cookie(response: &mut Response<Body>, cookie: &str) {
    match HeaderValue::from_str(cookie) {
        Ok(cookie) => {
            response.headers_mut().append(SET_COOKIE, cookie);
        }
        // Tokens are base64url and dots: they always fit in a header.
        Err(err) => tracing::error!(error = %err, "cookie not set"),
    }
}
