//! One sample request per route of the route table (`shared::routes::ROUTES`), keyed by
//! function name, and the calls made from them: the matrices over "every route" (cookies,
//! tokens, faults, the pooler) are generated from the table and what each function
//! declares, so a route added to the table is covered the day it lands, and one without a
//! sample fails `every_route_has_a_sample_and_every_sample_a_route`.

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::function::Access;
use shared::routes::{ROUTES, Route};

use crate::helpers::{NEW_PASSWORD, PASSWORD, Session, TestApp};

/// Settings for an app that builds many [`Account`]s at once from one address: each signs
/// up, signs in and asks for a reset link, and a signin counts against its address until
/// its password is checked, so the per-address limits would refuse some.
pub const MANY_ACCOUNTS: &[(&str, &str)] = &[
    ("THROTTLE_SIGNUP_IP", "0"),
    ("THROTTLE_SIGNIN_IP", "0"),
    ("THROTTLE_RESET_IP", "0"),
];

/// A user with everything a sample request may need: a signed-in device (the one the
/// samples use), a task, a second device (its session is the one `session-revoke` ends),
/// and the tokens of the links mailed to the account (verification and reset).
pub struct Account {
    pub email: String,
    /// Unique among the accounts of one app: new addresses are made from it.
    pub tag: String,
    pub session: Session,
    pub second_device: Session,
    pub task_id: i64,
    pub reset_token: String,
    pub verification_token: String,
}

impl Account {
    /// Signs `tag@example.com` up on `app` and gathers what the samples need.
    pub async fn new(app: &TestApp, tag: &str) -> Self {
        let email = format!("{tag}@example.com");
        let session = app.signup(&email).await;
        let task = app
            .create_task(&session, "A sample's task", Some("kept"))
            .await;
        let second_device = app.signin(&email).await;
        let (status, body) = app.forgot_password(&email).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let newest = |tokens: Vec<String>, what: &str| {
            tokens
                .last()
                .cloned()
                .unwrap_or_else(|| panic!("no {what} link mailed to {email}"))
        };
        Self {
            reset_token: newest(app.reset_tokens_mailed_to(&email), "reset"),
            verification_token: newest(app.verification_tokens_mailed_to(&email), "verification"),
            task_id: task["id"].as_i64().expect("task id"),
            email,
            tag: tag.to_owned(),
            session,
            second_device,
        }
    }

    /// The value of a path parameter of the route table (but `{user_id}`, which a matrix
    /// chooses).
    fn param(&self, name: &str) -> String {
        match name {
            "task_id" => self.task_id.to_string(),
            "session_id" => session_id_of(&self.second_device.token),
            _ => panic!("no sample value for the path parameter {{{name}}}: add it to Account"),
        }
    }
}

/// The session id (`jti`) a token of ours carries.
fn session_id_of(token: &str) -> String {
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(token)
        .expect("a token of ours")
        .claims;
    claims["jti"].as_str().expect("jti").to_owned()
}

/// How a route treats the session credential a request presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// Never reads one (signup, the mailed links, health).
    Ignored,
    /// Acts on it when there is a live one, answers alike without (signout).
    Optional,
    /// Needs one: 401 without, as every protected route.
    Required,
}

/// What a route's sample request is, beyond the method and path the table gives.
pub struct Sample {
    pub body: Option<Value>,
    pub success: StatusCode,
    /// Database round trips of the success (two where a password is verified between a
    /// read and a write; see BENCHMARKS.md, "Database round trips per route").
    pub round_trips: u64,
}

impl Sample {
    const fn ok() -> Self {
        Self {
            body: None,
            success: StatusCode::OK,
            round_trips: 1,
        }
    }

    fn ok_with(body: Value) -> Self {
        Self {
            body: Some(body),
            ..Self::ok()
        }
    }

    fn status(self, success: StatusCode) -> Self {
        Self { success, ..self }
    }

    /// For the routes that verify a password between two statements.
    fn two_round_trips(self) -> Self {
        Self {
            round_trips: 2,
            ..self
        }
    }
}

type SampleOf = fn(&Account) -> Sample;

/// THE sample requests, one per function of the route table: each succeeds on an
/// [`Account`] of its own, and carries a body that passes every check, so that only what a
/// matrix changes (the credential, its transport, the database) decides the answer.
pub const SAMPLES: &[(&str, SampleOf)] = &[
    ("signup", |account| {
        let email = format!("new-{}@example.com", account.tag);
        let body = json!({ "name": "Newcomer", "email": email, "password": PASSWORD });
        Sample::ok_with(body)
            .status(StatusCode::CREATED)
            .two_round_trips()
    }),
    ("signin", |account| {
        Sample::ok_with(json!({ "email": account.email, "password": PASSWORD })).two_round_trips()
    }),
    ("signout", |_| Sample::ok()),
    ("session", |_| Sample::ok()),
    ("health", |_| Sample::ok()),
    ("tasks-list", |_| Sample::ok()),
    ("task-create", |_| {
        let body = json!({ "title": "Created by a sample", "description": "only a good caller" });
        Sample::ok_with(body).status(StatusCode::CREATED)
    }),
    ("task-get", |_| Sample::ok()),
    ("task-replace", |_| {
        let body =
            json!({ "title": "Replaced by a sample", "description": null, "completed": true });
        Sample::ok_with(body)
    }),
    ("task-update", |_| {
        Sample::ok_with(json!({ "title": "Updated by a sample", "completed": true }))
    }),
    ("task-delete", |_| Sample::ok()),
    ("task-complete", |_| Sample::ok()),
    ("change-password", |_| {
        let body = json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD });
        Sample::ok_with(body).two_round_trips()
    }),
    ("user-update", |_| {
        Sample::ok_with(json!({ "name": "Renamed by a sample" }))
    }),
    ("user-delete", |_| {
        Sample::ok_with(json!({ "password": PASSWORD })).two_round_trips()
    }),
    ("sessions-list", |_| Sample::ok()),
    ("session-revoke", |_| Sample::ok()),
    ("forgot-password", |account| {
        Sample::ok_with(json!({ "email": account.email }))
    }),
    ("reset-password", |account| {
        let body = json!({ "token": account.reset_token, "password": NEW_PASSWORD });
        Sample::ok_with(body).two_round_trips()
    }),
    ("verify-email", |account| {
        Sample::ok_with(json!({ "token": account.verification_token }))
    }),
    ("send-verification-email", |account| {
        Sample::ok_with(json!({ "email": account.email }))
    }),
    ("change-email", |account| {
        let new_email = format!("moved-{}@example.com", account.tag);
        Sample::ok_with(json!({ "new_email": new_email, "password": PASSWORD })).two_round_trips()
    }),
];

/// One route's sample, made for an account: what a matrix sends.
#[derive(Clone)]
pub struct Call {
    pub route: &'static Route,
    pub method: Method,
    pub path: String,
    pub body: Option<Value>,
    pub success: StatusCode,
    pub round_trips: u64,
    pub credential: Credential,
}

impl Call {
    /// `METHOD /path (function)`, for failure messages.
    pub fn describe(&self) -> String {
        format!("{} {} ({})", self.method, self.path, self.route.function)
    }

    /// The request, without any credential.
    pub fn request(&self, app: &TestApp) -> reqwest::RequestBuilder {
        let request = app.request(self.method.clone(), &self.path);
        match &self.body {
            Some(body) => request.json(body),
            None => request,
        }
    }

    /// The request with the credential the route reads, if any, as a bearer token.
    pub fn request_as(&self, app: &TestApp, token: &str) -> reqwest::RequestBuilder {
        match self.credential {
            Credential::Ignored => self.request(app),
            Credential::Optional | Credential::Required => self.request(app).bearer_auth(token),
        }
    }

    /// Whether the route changes something: every method but GET.
    pub fn is_unsafe(&self) -> bool {
        self.method != Method::GET
    }
}

/// The sample of `function`.
fn sample_of(function: &str) -> Option<SampleOf> {
    SAMPLES
        .iter()
        .find(|(name, _)| *name == function)
        .map(|(_, sample)| *sample)
}

/// How `route`'s function treats a presented credential, from what it declares.
fn credential_of(route: &Route) -> Credential {
    let declared = dev_server::declared(route.function)
        .unwrap_or_else(|| panic!("{} is served by no function", route.function));
    match declared.access {
        Access::OwnAccount(_) | Access::AnyCredential(_) | Access::PathOwner(_) => {
            Credential::Required
        }
        Access::OptionalCaller(_) => Credential::Optional,
        Access::Public(_) => Credential::Ignored,
    }
}

/// `route`'s sample for `account`, its `{user_id}` that of `user` (the caller a token
/// claims to be, in the token matrices).
fn call(route: &'static Route, account: &Account, user: &str) -> Call {
    let sample = sample_of(route.function).unwrap_or_else(|| {
        panic!(
            "no sample request for {}: add one to SAMPLES",
            route.function
        )
    })(account);
    let path = route
        .path
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some("user_id") => user.to_owned(),
                Some(name) => account.param(name),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/");
    Call {
        route,
        method: Method::from_bytes(route.method.as_bytes()).expect("an HTTP method"),
        path,
        credential: credential_of(route),
        body: sample.body,
        success: sample.success,
        round_trips: sample.round_trips,
    }
}

/// Every route of the table, as `account`.
pub fn every_route(account: &Account) -> Vec<Call> {
    every_route_as(account, &account.session.user_id)
}

/// Every route of the table with `account`'s samples, its `{user_id}` being `user`.
pub fn every_route_as(account: &Account, user: &str) -> Vec<Call> {
    ROUTES
        .iter()
        .map(|route| call(route, account, user))
        .collect()
}

/// Every route's call, each on an account of its own (built together), since a sample may
/// end what another needs: deleting the account, revoking a session, using a link.
pub async fn every_route_on_its_own_account(app: &TestApp, round: &str) -> Vec<(Account, Call)> {
    let tags: Vec<String> = ROUTES
        .iter()
        .map(|route| format!("{}-{round}", route.function))
        .collect();
    let accounts = join_all(tags.iter().map(|tag| Account::new(app, tag))).await;
    accounts
        .into_iter()
        .zip(ROUTES)
        .map(|(account, route)| {
            let call = call(route, &account, &account.session.user_id);
            (account, call)
        })
        .collect()
}

/// Sends every route's sample with its account's bearer token and checks the exact success
/// status of each.
pub async fn every_route_succeeds(app: &TestApp, round: &str) {
    for (account, call) in every_route_on_its_own_account(app, round).await {
        let (status, body) = app.send(call.request_as(app, &account.session.token)).await;
        assert_eq!(status, call.success, "{}: {body}", call.describe());
    }
}

#[test]
fn every_route_has_a_sample_and_every_sample_a_route() {
    let missing: Vec<&str> = ROUTES
        .iter()
        .map(|route| route.function)
        .filter(|function| sample_of(function).is_none())
        .collect();
    assert_eq!(
        missing,
        Vec::<&str>::new(),
        "routes without a sample request"
    );
    let unknown: Vec<&str> = SAMPLES
        .iter()
        .map(|(function, _)| *function)
        .filter(|function| ROUTES.iter().all(|route| route.function != *function))
        .collect();
    assert_eq!(unknown, Vec::<&str>::new(), "samples of no route");
    let mut names: Vec<&str> = SAMPLES.iter().map(|(function, _)| *function).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), SAMPLES.len(), "one sample per function");
}
