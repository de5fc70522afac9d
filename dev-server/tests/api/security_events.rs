//! Security events (the contract's table): what a password reset, a password change, sign
//! out everywhere, an email change and an account deletion do to every credential and
//! pending link of an account. One test per cell of the table: the account holds one of
//! everything, the event happens, and the next use of that capability gets its exact
//! answer, while the owner keeps the account. And the takeover that a kept change-of-email
//! link allowed, walked end to end.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::db::security_events::{Capability, SecurityEvent};

use crate::helpers::{NEW_PASSWORD, PASSWORD, Session, TestApp, device_of, error, session_of};

const OWNER: &str = "ada@example.com";
/// Where the owner's pending change of email would move the account.
const PENDING_ADDRESS: &str = "ada.pending@example.com";
const INVALID_RESET: &str = "Invalid or expired reset token";
const INVALID_VERIFICATION: &str = "Invalid or expired verification token";
const INVALID_TOKEN: &str = "Invalid or malformed token";
const TOO_MANY: &str = "Too many attempts, please try again later";
/// The email's count from everywhere (`THROTTLE_SIGNIN_EMAIL_GLOBAL`) in these tests, so
/// three strangers lock it and only a known device still signs its owner in.
const EMAIL_LIMIT: &str = "3";

/// What the contract's table says of one cell, as the test checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    Kept,
    /// Every one void: for a link, also the one the event used.
    AllVoid,
    /// Void but for the caller's own (the session or device the event came from).
    AllButCallers,
    /// The capability's rows went with the account.
    Deleted,
}

impl Expected {
    /// Whether the caller's own (session, device) and another of the account's still work.
    fn callers_and_others(self) -> (bool, bool) {
        match self {
            Expected::Kept => (true, true),
            Expected::AllButCallers => (true, false),
            Expected::AllVoid | Expected::Deleted => (false, false),
        }
    }
}

/// The contract's Security events table, transcribed: a row per capability, a column per
/// event (reset, change-password, sign out everywhere, email changed, account deleted).
fn contract(capability: Capability, event: SecurityEvent) -> Expected {
    use Expected::*;
    let row = match capability {
        Capability::Sessions => [AllVoid, AllButCallers, AllVoid, Kept, Deleted],
        Capability::ResetLinks => [AllVoid, AllVoid, AllVoid, AllVoid, Deleted],
        Capability::ChangeEmailLinks => [AllVoid, AllVoid, AllVoid, AllVoid, Deleted],
        // Email changed: "n/a (the new address is verified)"; the former address's link
        // must not move the account back.
        Capability::VerificationLinks => [Kept, Kept, Kept, AllVoid, Deleted],
        Capability::Devices => [AllVoid, AllButCallers, AllButCallers, Kept, Deleted],
    };
    let column = SecurityEvent::ALL
        .iter()
        .position(|listed| *listed == event)
        .expect("a listed event");
    row[column]
}

#[test]
fn the_code_carries_the_contracts_table_for_every_kind_of_credential() {
    use shared::db::security_events::Fate;
    for &capability in Capability::ALL {
        for event in SecurityEvent::ALL {
            let in_code = match capability.fate(event) {
                Fate::Kept => Expected::Kept,
                Fate::Void => Expected::AllVoid,
                Fate::VoidButCaller => Expected::AllButCallers,
                Fate::GoneWithAccount => Expected::Deleted,
            };
            assert_eq!(
                in_code,
                contract(capability, event),
                "{capability:?} on {event:?}"
            );
        }
    }
}

#[tokio::test]
async fn every_kind_of_credential_goes_with_its_account() {
    // Account deletion leaves them to the foreign keys: each kind's table must cascade.
    let app = TestApp::spawn().await;
    for &capability in Capability::ALL {
        let table = capability.rows().table;
        let unqualified = table.rsplit('.').next().expect("a table name");
        let cascades: bool = app
            .db
            .query_one(
                "SELECT EXISTS (
                     SELECT 1 FROM pg_constraint c
                      WHERE c.contype = 'f' AND c.confdeltype = 'c'
                        AND c.conrelid = $1::text::regclass AND c.confrelid = 'users'::regclass)",
                &[&unqualified],
            )
            .await
            .expect("constraints")
            .get(0);
        assert!(
            cascades,
            "{capability:?}: {table} does not cascade from users"
        );
    }
}

/// One account holding one of everything: two sessions on two devices, a reset link, a
/// pending change of email and the signup's verification link.
struct Holdings {
    app: TestApp,
    user_id: String,
    /// The session and device the event comes from.
    laptop: Session,
    laptop_device: String,
    /// Another session and device of the owner's (or of whoever once knew the password).
    phone: Session,
    phone_device: String,
    reset_link: String,
    change_link: String,
    verification_link: String,
    /// The owner's password once the event happened.
    password: &'static str,
}

impl Holdings {
    async fn new() -> Self {
        let app = TestApp::spawn_with(&[("THROTTLE_SIGNIN_EMAIL_GLOBAL", EMAIL_LIMIT)]).await;
        let (status, signed_up) = app.signup_with("Ada Lovelace", OWNER, PASSWORD).await;
        assert_eq!(status, StatusCode::CREATED, "{signed_up}");
        let laptop = session_of(&signed_up);
        let laptop_device = device_of(&signed_up);
        let (status, signed_in) = app.signin_with(OWNER, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{signed_in}");
        let phone = session_of(&signed_in);
        let phone_device = device_of(&signed_in);

        app.forgot_password(OWNER).await;
        let reset_link = app
            .reset_tokens_mailed_to(OWNER)
            .pop()
            .expect("a reset link");
        let request = app
            .with_token(Method::POST, "/api/auth/change-email", &phone.token)
            .json(&json!({ "new_email": PENDING_ADDRESS, "password": PASSWORD }));
        assert_eq!(
            app.send(request).await,
            (
                StatusCode::OK,
                json!({ "message": "Verification sent to the new address" })
            )
        );
        let change_link = app
            .verification_tokens_mailed_to(PENDING_ADDRESS)
            .pop()
            .expect("a change-of-email link");
        let verification_link = app
            .verification_tokens_mailed_to(OWNER)
            .pop()
            .expect("the signup's verification link");
        Self {
            user_id: laptop.user_id.clone(),
            app,
            laptop,
            laptop_device,
            phone,
            phone_device,
            reset_link,
            change_link,
            verification_link,
            password: PASSWORD,
        }
    }

    /// The owner causes `event` from the laptop (its session and device).
    async fn undergo(&mut self, event: SecurityEvent) {
        let app = &self.app;
        let laptop = &self.laptop.token;
        let device_cookie = format!("todo_device={}", self.laptop_device);
        let answer = match event {
            SecurityEvent::PasswordReset => {
                self.password = NEW_PASSWORD;
                app.reset_password(&self.reset_link, NEW_PASSWORD).await
            }
            SecurityEvent::PasswordChanged => {
                self.password = NEW_PASSWORD;
                let request = app
                    .with_token(Method::POST, "/api/auth/change-password", laptop)
                    .header("cookie", &device_cookie)
                    .json(&json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }));
                app.send(request).await
            }
            SecurityEvent::SignedOutEverywhere => {
                let request = app
                    .with_token(Method::POST, "/api/auth/signout?scope=global", laptop)
                    .header("cookie", &device_cookie);
                app.send(request).await
            }
            SecurityEvent::EmailChanged => {
                let link = json!({ "token": self.change_link });
                app.post_json("/api/auth/verify-email", &link).await
            }
            SecurityEvent::AccountDeleted => {
                let request = app
                    .with_token(Method::DELETE, "/api/auth/user", laptop)
                    .header("cookie", &device_cookie)
                    .json(&json!({ "password": PASSWORD }));
                app.send(request).await
            }
        };
        let message = match event {
            SecurityEvent::PasswordReset => "Password has been reset",
            SecurityEvent::PasswordChanged => "Password changed",
            SecurityEvent::SignedOutEverywhere => "Signed out successfully",
            SecurityEvent::EmailChanged => "Email verified",
            SecurityEvent::AccountDeleted => "Account deleted",
        };
        assert_eq!(answer.0, StatusCode::OK, "{event:?}: {}", answer.1);
        assert_eq!(answer.1["message"], message, "{event:?}");
    }

    /// The owner's address once the event happened.
    fn email(&self, event: SecurityEvent) -> &'static str {
        match event {
            SecurityEvent::EmailChanged => PENDING_ADDRESS,
            _ => OWNER,
        }
    }

    /// Strangers at three addresses fail once each: the email's count from everywhere is
    /// full, so a signin gets through only on a device the account still knows.
    async fn strangers_lock(&self, email: &str) {
        for n in 2..=4 {
            let request = self
                .app
                .client_from(&format!("127.0.0.{n}"))
                .post(format!("{}/api/auth/signin", self.app.address))
                .json(&json!({ "email": email, "password": "a stranger's guess" }));
            assert_eq!(
                self.app.send(request).await,
                (StatusCode::BAD_REQUEST, error("Invalid email or password"))
            );
        }
    }

    async fn signin_on_device(&self, email: &str, device: &str) -> (StatusCode, Value) {
        let body = json!({ "email": email, "password": self.password, "device_token": device });
        self.app.post_json("/api/auth/signin", &body).await
    }

    /// How many rows of `table` the account still has.
    async fn rows_left(&self, table: &str) -> i64 {
        self.app
            .db
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE user_id::text = $1"),
                &[&self.user_id],
            )
            .await
            .expect("count")
            .get(0)
    }

    /// The owner still holds the account (unless it was deleted): a signin with the
    /// password of now, and its tasks.
    async fn owner_keeps_the_account(&self, event: SecurityEvent) {
        let email = self.email(event);
        let (status, body) = self.app.signin_with(email, self.password).await;
        if event == SecurityEvent::AccountDeleted {
            assert_eq!(
                (status, body),
                (StatusCode::BAD_REQUEST, error("Invalid email or password"))
            );
            return;
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        let owner = session_of(&body);
        assert_eq!(owner.user_id, self.user_id);
        assert_eq!(
            self.app.list_tasks(&owner, "").await,
            (StatusCode::OK, json!([]))
        );
    }
}

/// The cell (`capability`, `event`): the account's holdings, the event, and the next use
/// of the capability.
async fn cell(capability: Capability, event: SecurityEvent) {
    let expected = contract(capability, event);
    let mut holdings = Holdings::new().await;
    holdings.undergo(event).await;
    let app = &holdings.app;
    let deleted = expected == Expected::Deleted;
    match capability {
        Capability::Sessions => {
            let answer = |live: bool| match live {
                true => StatusCode::OK,
                false => StatusCode::UNAUTHORIZED,
            };
            let (caller, other) = expected.callers_and_others();
            for (who, session, live) in [
                ("the caller's", &holdings.laptop, caller),
                ("the other", &holdings.phone, other),
            ] {
                let (status, body) = app.get_session(&session.token).await;
                assert_eq!(status, answer(live), "{who} session: {body}");
                if !live {
                    assert_eq!(body, error(INVALID_TOKEN));
                }
            }
            if deleted {
                assert_eq!(holdings.rows_left("sessions").await, 0);
            }
        }
        // Void on every event: the next use is refused, and no row is left.
        Capability::ResetLinks => {
            assert_eq!(
                app.reset_password(&holdings.reset_link, "yet another passphrase")
                    .await,
                (StatusCode::BAD_REQUEST, error(INVALID_RESET))
            );
            assert_eq!(holdings.rows_left("password_resets").await, 0);
        }
        Capability::ChangeEmailLinks => {
            let link = json!({ "token": holdings.change_link });
            assert_eq!(
                app.post_json("/api/auth/verify-email", &link).await,
                (StatusCode::BAD_REQUEST, error(INVALID_VERIFICATION))
            );
            let pending: i64 = app
                .db
                .query_one(
                    "SELECT count(*) FROM email_verifications WHERE purpose = 'change'",
                    &[],
                )
                .await
                .expect("count")
                .get(0);
            assert_eq!(pending, 0);
        }
        Capability::VerificationLinks => {
            let link = json!({ "token": holdings.verification_link });
            let answer = app.post_json("/api/auth/verify-email", &link).await;
            match expected {
                Expected::Kept => assert_eq!(
                    answer,
                    (
                        StatusCode::OK,
                        json!({
                            "message": "Email verified",
                            "user": {
                                "id": holdings.user_id, "email": OWNER,
                                "name": "Ada Lovelace", "email_verified": true,
                            },
                        })
                    )
                ),
                _ => assert_eq!(
                    answer,
                    (StatusCode::BAD_REQUEST, error(INVALID_VERIFICATION))
                ),
            }
        }
        Capability::Devices => {
            let email = holdings.email(event);
            if deleted {
                assert_eq!(holdings.rows_left("devices").await, 0);
                // The address signs up afresh; the former account's devices mean nothing.
                let (status, _) = app.signup_with("Ada Lovelace", email, PASSWORD).await;
                assert_eq!(status, StatusCode::CREATED);
            } else {
                // Before strangers lock the email: afterwards only a known device gets in.
                holdings.owner_keeps_the_account(event).await;
            }
            holdings.strangers_lock(email).await;
            let (caller, other) = expected.callers_and_others();
            for (who, device, known) in [
                ("the caller's", &holdings.laptop_device, caller),
                ("the other", &holdings.phone_device, other),
            ] {
                let (status, body) = holdings.signin_on_device(email, device).await;
                if known {
                    assert_eq!(status, StatusCode::OK, "{who} device: {body}");
                    assert_eq!(&device_of(&body), device, "{who} device, still known");
                } else {
                    assert_eq!(
                        (status, body),
                        (StatusCode::TOO_MANY_REQUESTS, error(TOO_MANY)),
                        "{who} device: void, so the full email's count judges it"
                    );
                }
            }
            return;
        }
    }
    holdings.owner_keeps_the_account(event).await;
}

/// One test per cell of the table.
macro_rules! cells {
    ($($name:ident: $capability:ident on $event:ident,)+) => {
        $(
            #[tokio::test]
            async fn $name() {
                cell(Capability::$capability, SecurityEvent::$event).await;
            }
        )+
    };
}

cells! {
    password_reset_ends_every_session: Sessions on PasswordReset,
    password_change_ends_every_session_but_the_callers: Sessions on PasswordChanged,
    signing_out_everywhere_ends_every_session: Sessions on SignedOutEverywhere,
    an_email_change_keeps_the_sessions: Sessions on EmailChanged,
    account_deletion_ends_every_session: Sessions on AccountDeleted,

    password_reset_voids_the_used_and_every_other_reset_link: ResetLinks on PasswordReset,
    password_change_voids_the_reset_links: ResetLinks on PasswordChanged,
    signing_out_everywhere_voids_the_reset_links: ResetLinks on SignedOutEverywhere,
    an_email_change_voids_the_reset_links_mailed_to_the_former_address: ResetLinks on EmailChanged,
    account_deletion_voids_the_reset_links: ResetLinks on AccountDeleted,

    password_reset_cancels_a_pending_change_of_email: ChangeEmailLinks on PasswordReset,
    password_change_cancels_a_pending_change_of_email: ChangeEmailLinks on PasswordChanged,
    signing_out_everywhere_cancels_a_pending_change_of_email: ChangeEmailLinks on SignedOutEverywhere,
    an_email_change_consumes_its_link: ChangeEmailLinks on EmailChanged,
    account_deletion_cancels_a_pending_change_of_email: ChangeEmailLinks on AccountDeleted,

    password_reset_keeps_the_verification_link: VerificationLinks on PasswordReset,
    password_change_keeps_the_verification_link: VerificationLinks on PasswordChanged,
    signing_out_everywhere_keeps_the_verification_link: VerificationLinks on SignedOutEverywhere,
    an_email_change_voids_the_former_addresses_verification_link: VerificationLinks on EmailChanged,
    account_deletion_voids_the_verification_link: VerificationLinks on AccountDeleted,

    password_reset_voids_every_device: Devices on PasswordReset,
    password_change_voids_every_device_but_the_callers: Devices on PasswordChanged,
    signing_out_everywhere_voids_every_device_but_the_callers: Devices on SignedOutEverywhere,
    an_email_change_keeps_the_devices: Devices on EmailChanged,
    account_deletion_voids_every_device: Devices on AccountDeleted,
}

/// The takeover a kept change-of-email link allowed: whoever signed up first with
/// somebody else's address (or once knew the password) asks to move the account to their
/// own mailbox and keeps the link; the owner recovers the account by a password reset,
/// changes the password and signs out everywhere; the kept link must be dead by then.
#[tokio::test]
async fn a_change_of_email_link_kept_by_an_intruder_dies_when_the_owner_recovers_the_account() {
    let app = TestApp::spawn().await;
    // The intruder signs up first with the owner's address and asks to move it.
    let intruder = app.signup(OWNER).await;
    let request = app
        .with_token(Method::POST, "/api/auth/change-email", &intruder.token)
        .json(&json!({ "new_email": "mallory@example.com", "password": PASSWORD }));
    assert_eq!(app.send(request).await.0, StatusCode::OK);
    let kept_link = app
        .verification_tokens_mailed_to("mallory@example.com")
        .pop()
        .expect("the intruder's link");

    // The owner recovers the account through the mailbox, takes it over and locks it down.
    app.forgot_password(OWNER).await;
    let reset = app
        .reset_tokens_mailed_to(OWNER)
        .pop()
        .expect("a reset link");
    assert_eq!(
        app.reset_password(&reset, NEW_PASSWORD).await,
        (
            StatusCode::OK,
            json!({ "message": "Password has been reset" })
        )
    );
    let (status, body) = app.signin_with(OWNER, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let owner = session_of(&body);
    app.create_task(&owner, "the owner's secret plans", None)
        .await;
    let request = app
        .with_token(Method::POST, "/api/auth/change-password", &owner.token)
        .json(&json!({ "current_password": NEW_PASSWORD, "new_password": "the owner's own passphrase" }));
    assert_eq!(
        app.send(request).await,
        (StatusCode::OK, json!({ "message": "Password changed" }))
    );
    let request = app.with_token(Method::POST, "/api/auth/signout?scope=global", &owner.token);
    assert_eq!(app.send(request).await.0, StatusCode::OK);

    // The kept link moves nothing.
    assert_eq!(
        app.post_json("/api/auth/verify-email", &json!({ "token": kept_link }))
            .await,
        (StatusCode::BAD_REQUEST, error(INVALID_VERIFICATION))
    );
    // The intruder's mailbox recovers nothing; the owner is in control.
    app.forgot_password("mallory@example.com").await;
    assert_eq!(
        app.reset_tokens_mailed_to("mallory@example.com"),
        Vec::<String>::new()
    );
    assert_eq!(
        app.signin_with("mallory@example.com", "the owner's own passphrase")
            .await,
        (StatusCode::BAD_REQUEST, error("Invalid email or password"))
    );
    let (status, body) = app.signin_with(OWNER, "the owner's own passphrase").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["email"], OWNER);
    let owner = session_of(&body);
    let (status, tasks) = app.list_tasks(&owner, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tasks[0]["title"], "the owner's secret plans");
    assert_eq!(
        app.get_session(&intruder.token).await.0,
        StatusCode::UNAUTHORIZED
    );
}
