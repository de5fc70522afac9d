//! Brute-force throttling as the contract states it: failed password checks per email from
//! one address, per email from all addresses and per address; signups per address, judged
//! before any hash; 15-minute windows, `Retry-After`, `0` turning a rule off, the same
//! answer whether or not the email exists, and an attempt refused by one rule moving no
//! counter at all.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, error, pgbouncer};

const TOO_MANY: &str = "Too many attempts, please try again later";

type Answer = (StatusCode, Option<u64>, Value);

/// Status, `Retry-After` in seconds (if sent) and body of one POST from `address`.
async fn post_from(app: &TestApp, address: &str, path: &str, body: Value) -> Answer {
    let request = app
        .client_from(address)
        .request(Method::POST, format!("{}{path}", app.address))
        .json(&body);
    let (status, headers, body) = app.send_with_headers(request).await;
    let retry_after = headers
        .get("retry-after")
        .map(|value| value.to_str().expect("ASCII").parse().expect("seconds"));
    (status, retry_after, body)
}

async fn signin_from(app: &TestApp, address: &str, email: &str, password: &str) -> Answer {
    let body = json!({ "email": email, "password": password });
    post_from(app, address, "/api/auth/signin", body).await
}

/// A signin from 127.0.0.1.
async fn signin(app: &TestApp, email: &str, password: &str) -> Answer {
    signin_from(app, "127.0.0.1", email, password).await
}

async fn signup(app: &TestApp, email: &str) -> Answer {
    let body = json!({ "name": "Ada", "email": email, "password": PASSWORD });
    post_from(app, "127.0.0.1", "/api/auth/signup", body).await
}

fn invalid() -> Answer {
    (
        StatusCode::BAD_REQUEST,
        None,
        error("Invalid email or password"),
    )
}

/// `times` wrong-password signins for `email` from `address`, each answered the plain 400.
async fn fail_signins_from(app: &TestApp, address: &str, email: &str, times: usize) {
    for attempt in 1..=times {
        assert_eq!(
            signin_from(app, address, email, "wrong password").await,
            invalid(),
            "failure {attempt} of {times} from {address}"
        );
    }
}

async fn fail_signins(app: &TestApp, email: &str, times: usize) {
    fail_signins_from(app, "127.0.0.1", email, times).await;
}

/// A 429 with the contract body and a `Retry-After` within the 15-minute window.
fn assert_throttled(answer: &Answer, context: &str) {
    assert_eq!(
        answer.0,
        StatusCode::TOO_MANY_REQUESTS,
        "{context}: {answer:?}"
    );
    assert_eq!(answer.2, error(TOO_MANY), "{context}");
    let retry_after = answer
        .1
        .unwrap_or_else(|| panic!("{context}: no Retry-After"));
    assert!(
        (1..=900).contains(&retry_after),
        "{context}: Retry-After {retry_after}"
    );
}

/// Every counter as the database holds it, for before/after comparisons.
async fn counters(app: &TestApp) -> Vec<String> {
    app.db
        .query(
            "SELECT row_to_json(c)::text FROM throttle_counters c ORDER BY rule, key",
            &[],
        )
        .await
        .expect("counters")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn five_failures_for_an_email_from_one_address_block_it_there_even_with_the_right_password() {
    let app = TestApp::spawn().await;
    app.signup("ada@example.com").await;
    fail_signins(&app, "ada@example.com", 5).await;
    let before = counters(&app).await;
    let runs = app.state.passwords.runs();
    let blocked = signin(&app, "ADA@example.com ", PASSWORD).await;
    assert_throttled(&blocked, "sixth attempt, right password, other spelling");
    assert_eq!(
        counters(&app).await,
        before,
        "a refused attempt moves no counter"
    );
    assert_eq!(app.state.passwords.runs(), runs, "and verifies no password");
    assert_eq!(
        app.count("sessions").await,
        1,
        "a throttled signin opens no session"
    );

    // The owner, from another address, is not locked out by somebody else's guesses.
    assert_eq!(
        signin_from(&app, "127.0.0.2", "ada@example.com", PASSWORD)
            .await
            .0,
        StatusCode::OK
    );
    // Other emails from the same address are not affected by this email's limit.
    app.signup("grace@example.com").await;
    assert_eq!(
        signin(&app, "grace@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_address_over_its_limit_cannot_touch_other_accounts_counters() {
    let app = TestApp::spawn_with(&[("THROTTLE_SIGNIN_IP", "3")]).await;
    let victims: Vec<String> = (0..10).map(|n| format!("victim{n}@example.com")).collect();
    for victim in &victims {
        app.signup(victim).await;
    }
    fail_signins(&app, "guess@example.com", 3).await;
    let before = counters(&app).await;
    assert_eq!(
        before.len(),
        4,
        "the guessed email from here and everywhere, the address's signins and its signups"
    );
    let runs = app.state.passwords.runs();
    for victim in &victims {
        for _ in 0..6 {
            assert_throttled(
                &signin(&app, victim, "wrong password").await,
                "an address over its limit",
            );
        }
    }
    assert_eq!(
        counters(&app).await,
        before,
        "no counter was created or moved"
    );
    assert_eq!(app.state.passwords.runs(), runs, "no password was verified");
    for victim in &victims {
        assert_eq!(
            signin_from(&app, "127.0.0.2", victim, PASSWORD).await.0,
            StatusCode::OK,
            "{victim} signs in from elsewhere"
        );
    }
}

#[tokio::test]
async fn failures_for_one_email_from_many_addresses_reach_its_global_limit() {
    let app = TestApp::spawn_with(&[("THROTTLE_SIGNIN_EMAIL_GLOBAL", "3")]).await;
    app.signup("ada@example.com").await;
    for address in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        fail_signins_from(&app, address, "ada@example.com", 1).await;
    }
    let before = counters(&app).await;
    assert_throttled(
        &signin_from(&app, "127.0.0.5", "ada@example.com", PASSWORD).await,
        "distributed guessing, a fresh address",
    );
    assert_eq!(counters(&app).await, before);
}

#[tokio::test]
async fn throttling_answers_the_same_whether_or_not_the_email_exists() {
    let app = TestApp::spawn().await;
    app.signup("ada@example.com").await;
    for _ in 0..5 {
        let known = signin(&app, "ada@example.com", "not the password").await;
        let unknown = signin(&app, "nobody@example.com", "not the password").await;
        assert_eq!(known, unknown);
    }
    let known = signin(&app, "ada@example.com", PASSWORD).await;
    let unknown = signin(&app, "nobody@example.com", PASSWORD).await;
    assert_throttled(&known, "known email");
    assert_throttled(&unknown, "unknown email");
    assert_eq!((known.0, &known.2), (unknown.0, &unknown.2));
    assert!(known.1.abs_diff(unknown.1).unwrap_or(u64::MAX) <= 1);
}

trait AbsDiff {
    fn abs_diff(self, other: Self) -> Option<u64>;
}

impl AbsDiff for Option<u64> {
    fn abs_diff(self, other: Self) -> Option<u64> {
        Some(self?.abs_diff(other?))
    }
}

#[tokio::test]
async fn a_successful_signin_resets_the_email_count_from_that_address() {
    let app = TestApp::spawn().await;
    app.signup("ada@example.com").await;
    fail_signins(&app, "ada@example.com", 4).await;
    assert_eq!(
        signin(&app, "ada@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
    fail_signins(&app, "ada@example.com", 5).await;
    assert_throttled(
        &signin(&app, "ada@example.com", PASSWORD).await,
        "after 5 more",
    );
}

#[tokio::test]
async fn the_window_passes_and_retry_after_counts_down_to_its_end() {
    let app = TestApp::spawn().await;
    app.signup("ada@example.com").await;
    fail_signins(&app, "ada@example.com", 5).await;
    // Start the window 14 minutes ago: one minute of it is left (set from now, not moved
    // back, so however long the failed signins took on a busy machine does not count).
    app.db
        .execute(
            "UPDATE throttle_counters SET window_start = now() - interval '14 minutes'",
            &[],
        )
        .await
        .expect("age the window");
    let blocked = signin(&app, "ada@example.com", PASSWORD).await;
    assert_throttled(&blocked, "last minute of the window");
    // At most the minute left when the window was moved (time only moves on from there),
    // and at least a second while the window still blocks.
    let retry_after = blocked.1.unwrap_or_default();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");

    // And past its end: the next attempt opens a new window and succeeds.
    app.db
        .execute(
            "UPDATE throttle_counters SET window_start = window_start - interval '1 minute'",
            &[],
        )
        .await
        .expect("age the window");
    assert_eq!(
        signin(&app, "ada@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn failures_from_one_address_block_it_across_emails() {
    let app = TestApp::spawn_with(&[("THROTTLE_SIGNIN_IP", "3")]).await;
    app.signup("ada@example.com").await;
    for n in 0..3 {
        assert_eq!(
            signin(&app, &format!("guess{n}@example.com"), "password1").await,
            invalid()
        );
    }
    assert_throttled(
        &signin(&app, "ada@example.com", PASSWORD).await,
        "a fresh email from a blocked address",
    );
}

#[tokio::test]
async fn successful_signins_do_not_count_against_the_address() {
    let app = TestApp::spawn_with(&[("THROTTLE_SIGNIN_IP", "2")]).await;
    app.signup("ada@example.com").await;
    for _ in 0..5 {
        assert_eq!(
            signin(&app, "ada@example.com", PASSWORD).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(
        signin(&app, "ada@example.com", "wrong password").await,
        invalid()
    );
    assert_eq!(
        signin(&app, "ada@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn signups_from_one_address_are_limited_and_refused_before_any_hash() {
    let app = TestApp::spawn_with(&[("THROTTLE_SIGNUP_IP", "3")]).await;
    assert_eq!(signup(&app, "a@example.com").await.0, StatusCode::CREATED);
    let runs = app.state.passwords.runs();
    assert_eq!(
        signup(&app, "a@example.com").await,
        (
            StatusCode::BAD_REQUEST,
            None,
            error("Email already registered")
        )
    );
    assert_eq!(
        app.state.passwords.runs(),
        runs,
        "a taken email costs no hash"
    );
    assert_eq!(signup(&app, "b@example.com").await.0, StatusCode::CREATED);
    let runs = app.state.passwords.runs();
    let before = counters(&app).await;
    let blocked = signup(&app, "c@example.com").await;
    assert_throttled(&blocked, "fourth signup");
    assert_eq!(
        app.state.passwords.runs(),
        runs,
        "a refused signup costs no hash"
    );
    assert_eq!(counters(&app).await, before, "nor moves its counter");
    assert_eq!(
        app.count("users").await,
        2,
        "a throttled signup stores nothing"
    );
    assert_eq!(app.count("sessions").await, 2);

    // Invalid input is refused before it counts.
    let (status, _, body) = app
        .send_with_headers(
            app.request(Method::POST, "/api/auth/signup")
                .json(&json!({ "name": "", "email": "d@example.com", "password": PASSWORD })),
        )
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, error("Name is required"))
    );
}

#[tokio::test]
async fn zero_turns_a_limit_off() {
    let app = TestApp::spawn_with(&[
        ("THROTTLE_SIGNIN_EMAIL", "0"),
        ("THROTTLE_SIGNIN_EMAIL_GLOBAL", "0"),
        ("THROTTLE_SIGNIN_IP", "0"),
        ("THROTTLE_SIGNUP_IP", "0"),
    ])
    .await;
    app.signup("ada@example.com").await;
    fail_signins(&app, "ada@example.com", 8).await;
    assert_eq!(
        signin(&app, "ada@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.count("throttle_counters").await,
        0,
        "rules that are off count nothing"
    );
}

#[tokio::test]
async fn counters_hold_keyed_digests_not_addresses_nor_plain_hashes() {
    let app = TestApp::spawn().await;
    let (email, address) = ("secret.person@example.com", "127.0.0.1");
    signin(&app, email, "wrong password").await;
    let rows = app
        .db
        .query(
            "SELECT rule, key, key IN (sha256(convert_to($1, 'UTF8')), sha256(convert_to($2, 'UTF8')))
               FROM throttle_counters ORDER BY rule",
            &[&email, &address],
        )
        .await
        .expect("counters");
    let rules: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
    assert_eq!(rules, ["signin_email", "signin_email_ip", "signin_ip"]);
    let digests = &app.state.digests;
    let expected = [
        digests.throttle_key(&[email]),
        digests.throttle_key(&[email, address]),
        digests.throttle_key(&[address]),
    ];
    for (row, expected) in rows.iter().zip(expected) {
        let key: Vec<u8> = row.get(1);
        assert_eq!(key, expected, "HMAC-SHA256 under the derived key");
        assert!(!row.get::<_, bool>(2), "not a plain SHA-256");
        let text = String::from_utf8_lossy(&key);
        assert!(!text.contains("secret.person") && !text.contains(address));
    }
}

#[tokio::test]
async fn the_clean_up_deletes_only_expired_sessions_devices_and_dead_counters() {
    let app = TestApp::spawn().await;
    let live = app.signup("ada@example.com").await;
    app.signup("grace@example.com").await;
    signin(&app, "ada@example.com", "wrong password").await;
    signin(&app, "nobody@example.com", "wrong password").await;
    app.db
        .execute(
            "UPDATE sessions SET expires_at = now() - interval '1 second'
              WHERE user_id = (SELECT id FROM users WHERE email = 'grace@example.com')",
            &[],
        )
        .await
        .expect("age a session");
    app.db
        .execute(
            "UPDATE devices SET expires_at = now() - interval '1 second'
              WHERE user_id = (SELECT id FROM users WHERE email = 'grace@example.com')",
            &[],
        )
        .await
        .expect("age a device");
    let nobody = app.state.digests.throttle_key(&["nobody@example.com"]);
    app.db
        .execute(
            "UPDATE throttle_counters SET window_start = now() - interval '15 minutes'
              WHERE rule = 'signin_email' AND key = $1",
            &[&nobody],
        )
        .await
        .expect("age a counter");

    let purged = shared::db::maintenance::purge_expired(&app.state.db)
        .await
        .expect("purge");
    assert_eq!(
        purged,
        shared::db::maintenance::Purged {
            sessions: 1,
            throttle_counters: 1,
            password_resets: 0,
            devices: 1,
            email_verifications: 0,
        }
    );
    assert_eq!(app.count("devices").await, 1, "ada's");
    assert_eq!(app.count("sessions").await, 1);
    assert_eq!(
        app.count("throttle_counters").await,
        5,
        "ada's email (here and everywhere), nobody's from here, the address's signin and \
         signup counters"
    );
    assert_eq!(app.get_session(&live.token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_burst_of_wrong_signins_for_a_new_email_checks_at_most_the_limit_of_passwords() {
    let app = TestApp::spawn_with(&[("DATABASE_POOL_SIZE", "25")]).await;
    let email = "nobody@example.com";
    // The burst meets in the database: a transaction of the test's holds the email's
    // counter, inserted and not yet committed, so every signin statement waits on it with
    // no counter row visible to it, as many first attempts arriving together do.
    app.db.batch_execute("BEGIN").await.expect("BEGIN");
    let key = app.state.digests.throttle_key(&[email]);
    app.db
        .execute(
            "INSERT INTO throttle_counters (rule, key, window_start, attempts)
             VALUES ('signin_email', $1, now(), 0)",
            &[&key],
        )
        .await
        .expect("the held counter");
    let burst = tokio::spawn({
        let (address, client) = (app.address.clone(), reqwest::Client::new());
        async move {
            let signins = (0..50).map(|_| {
                client
                    .post(format!("{address}/api/auth/signin"))
                    .json(&json!({ "email": email, "password": "wrong password" }))
                    .send()
            });
            futures_util::future::join_all(signins).await
        }
    });
    let (monitor, connection) = tokio_postgres::connect(&app.database_url, tokio_postgres::NoTls)
        .await
        .expect("monitor");
    tokio::spawn(connection);
    let waiting_on_the_counter = || async {
        let row = monitor
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .expect("pg_stat_activity");
        row.get::<_, i64>(0)
    };
    // Every attempt that can reach the database waits on the counter before it is
    // released: one per pooled connection (25), or through the suite's PgBouncer, one per
    // server connection it keeps for this database (8). More than the limit (5) either way.
    let reach_the_database = if pgbouncer().is_some() { 8 } else { 25 };
    let mut waiting = 0;
    for _ in 0..200 {
        waiting = waiting_on_the_counter().await;
        if waiting == reach_the_database {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(waiting, reach_the_database, "the burst waits together");
    app.db.batch_execute("ROLLBACK").await.expect("ROLLBACK");

    let mut answers = Vec::new();
    for response in burst.await.expect("the burst") {
        let response = response.expect("an answer");
        let status = response.status();
        let retry_after = response.headers().contains_key("retry-after");
        answers.push((
            status,
            retry_after,
            response.json::<Value>().await.expect("JSON"),
        ));
    }
    let checked = answers
        .iter()
        .filter(|answer| {
            **answer
                == (
                    StatusCode::BAD_REQUEST,
                    false,
                    error("Invalid email or password"),
                )
        })
        .count();
    let refused = answers
        .iter()
        .filter(|answer| **answer == (StatusCode::TOO_MANY_REQUESTS, true, error(TOO_MANY)))
        .count();
    assert_eq!(
        (checked, refused),
        (5, 45),
        "THROTTLE_SIGNIN_EMAIL (5) passwords checked, the rest refused: {answers:?}"
    );
    let counted: Vec<String> = app
        .db
        .query(
            "SELECT rule || ' ' || attempts FROM throttle_counters ORDER BY rule",
            &[],
        )
        .await
        .expect("counters")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        counted,
        ["signin_email 5", "signin_email_ip 5", "signin_ip 5"],
        "refused attempts move no counter"
    );
}
