//! Lambda entry point: build the state once per cold start (with the SES mailbox, which
//! needs `EMAIL_FROM` and `APP_URL`), then serve events with it.

use std::sync::Arc;

use forgot_password::ses::SesMailer;
use lambda_http::{Error, run, service_fn};
use shared::config::MailSettings;
use shared::mail::Mailbox;
use shared::state::or_exit;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let mut state = or_exit(shared::AppState::cold_start(forgot_password::plan).await);
    let env = |name: &str| std::env::var(name).ok();
    state.mailbox = Some(Mailbox {
        settings: or_exit(MailSettings::from_lookup(&env)),
        mailer: Arc::new(or_exit(SesMailer::from_lookup(&env))),
    });
    run(service_fn(|req| forgot_password::handler(&state, req))).await
}
