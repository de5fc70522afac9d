//! Lambda entry point: build the state once per cold start (with the SES mailbox, which
//! needs `EMAIL_FROM` and `APP_URL`), then serve events with it.

use std::sync::Arc;

use forgot_password::ses::SesMailer;
use shared::config::MailSettings;
use shared::mail::Mailbox;
use shared::state::or_exit;

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run_with(forgot_password::plan, with_ses_mailbox, |state, req| {
        Box::pin(forgot_password::handler(state, req))
    })
}

fn with_ses_mailbox(state: &mut shared::AppState) {
    let env = |name: &str| std::env::var(name).ok();
    state.mailbox = Some(Mailbox {
        settings: or_exit(MailSettings::from_lookup(&env)),
        mailer: Arc::new(or_exit(SesMailer::from_lookup(&env))),
    });
}
