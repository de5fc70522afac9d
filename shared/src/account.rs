//! What the account functions share: confirming the caller's current password, throttled
//! like a signin (the same counters) and timed like one (one argon2id verification,
//! right password or wrong).

use crate::access::Authenticated;
use crate::audit::AuditEvent;
use crate::db::throttle::{PasswordAttempt, Settlement};
use crate::db::users;
use crate::error::{ApiError, AuthFailure};
use crate::secrecy::SecretString;

impl Authenticated<'_> {
    /// Checks that `password` is the caller's (one of our accounts): a refused attempt is
    /// 429 and verifies nothing; a wrong password is 400 `wrong` and counts like a failed
    /// signin, judged by the known device the request presents (`device_in_body`, else the
    /// device cookie) or else by the email's rules. What the statement that then does the
    /// work settles.
    pub async fn confirm_password(
        &self,
        password: String,
        wrong: &'static str,
        device_in_body: Option<String>,
    ) -> Result<Settlement, ApiError> {
        let state = self.state();
        let email = self
            .caller()
            .account_email
            .as_deref()
            .ok_or(ApiError::Unauthorized(AuthFailure::InvalidToken))?;
        let device = self.presented_device(device_in_body);
        let attempt = PasswordAttempt::new(
            &state.config.throttle,
            &state.digests,
            email,
            self.client_ip(),
            device.as_deref(),
        );
        let checked = users::password_check(&state.db, self.credential(), &attempt).await?;
        let on_file = self
            .checked(checked)?
            .map_err(|throttled| self.throttled(throttled))?
            // The account went between the token and now.
            .ok_or(ApiError::Unauthorized(AuthFailure::InvalidToken))?;
        let matches = state
            .passwords
            .verify(SecretString::from(password), Some(on_file.hash))
            .await?;
        if !matches {
            self.audit(AuditEvent::PasswordCheckFailed);
            return Err(ApiError::validation(wrong));
        }
        Ok(attempt.settlement(on_file.known_device))
    }
}
