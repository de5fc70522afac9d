//! What forgot-password and send-verification-email share: a request for a mailed link by
//! email, answered with the same body in about the same time whatever the address. The
//! request is judged and counted (its own throttle rules) and the link stored in one
//! statement; the mail then goes, and the answer waits until [`ANSWER_FLOOR`] has passed
//! since the request came in, so neither the delivery nor its failure (logged and audited)
//! tells anything about the address.

use std::net::IpAddr;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;

use crate::access;
use crate::audit::{self, AuditEvent};
use crate::auth::digest::DigestKeys;
use crate::config::{MailSettings, ThrottleLimits};
use crate::db::links;
use crate::db::statements::Statement;
use crate::db::throttle::Attempt;
use crate::domain::Email;
use crate::mail::{LinkToken, Mail};
use crate::state::MailState;
use crate::{ApiError, http};

/// Every successful answer takes at least this long: longer than a mail's delivery usually
/// takes, so an address that gets a link (stored, mailed) and one that does not (nothing to
/// do) answer alike.
pub const ANSWER_FLOOR: Duration = Duration::from_millis(400);

/// One kind of link asked for by email.
pub struct LinkRequest {
    /// The statement that judges the attempt and stores the link (see
    /// [`links::request_link`]).
    pub statement: &'static LazyLock<Statement>,
    /// The attempt's throttle counters.
    pub attempt: fn(&ThrottleLimits, &DigestKeys, &str, Option<IpAddr>) -> Attempt,
    /// How long the link is valid.
    pub ttl: fn(&MailSettings) -> Duration,
    /// The mail to the address, with the link's token.
    pub mail: fn(&MailSettings, &str, &str) -> Mail,
    /// Audited when the mail went, and when it could not.
    pub sent: AuditEvent,
    pub failed: AuditEvent,
    /// The one 200 message.
    pub answer: &'static str,
}

#[derive(Deserialize)]
struct EmailBody {
    email: Option<String>,
}

/// Answers `req`, a request for the link `kind` describes.
pub async fn answer(
    state: &MailState,
    req: Request,
    kind: &LinkRequest,
) -> Result<Response<Body>, ApiError> {
    let started = Instant::now();
    let body: EmailBody = http::parse_json(&req)?;
    let email = Email::parse(body.email.as_deref())?;
    let attempt = (kind.attempt)(
        &state.config.throttle,
        &state.digests,
        email.as_str(),
        http::client_ip(&req, state.config.trusted_proxy_secret.as_ref()),
    );
    let link = LinkToken::generate()?;
    let settings = &state.mailbox.settings;
    let recipient = links::request_link(
        &state.db,
        kind.statement,
        email.as_str(),
        &link.digest,
        (kind.ttl)(settings),
        &attempt,
    )
    .await?
    .map_err(|throttled| access::refuse_throttled(state, &req, None, throttled))?;
    if let Some(recipient) = recipient {
        let mail = (kind.mail)(settings, &recipient, &link.token);
        let event = match state.mailbox.deliver(&mail).await {
            true => kind.sent,
            false => kind.failed,
        };
        audit::record(state, &req, event, None);
    }
    tokio::time::sleep_until((started + ANSWER_FLOOR).into()).await;
    Ok(http::json(
        StatusCode::OK,
        &json!({ "message": kind.answer }),
    ))
}
