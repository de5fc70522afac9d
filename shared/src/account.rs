//! What the account functions share: confirming the caller's current password, throttled
//! like a signin (the same counters) and timed like one (one argon2id verification,
//! right password or wrong).

use crate::access::Authenticated;
use crate::audit::AuditEvent;
use crate::db::throttle::Attempt;
use crate::db::users;
use crate::error::{ApiError, AuthFailure};
use crate::secrecy::SecretString;

impl Authenticated<'_> {
    /// Checks that `password` is the caller's (one of our accounts): a refused attempt is
    /// 429 and verifies nothing; a wrong password is 400 `wrong` and counts like a failed
    /// signin. The attempt, for the statement that then does the work to settle.
    pub async fn confirm_password(
        &self,
        password: String,
        wrong: &'static str,
    ) -> Result<Attempt, ApiError> {
        let state = self.state();
        let email = self
            .caller()
            .account_email
            .as_deref()
            .ok_or(ApiError::Unauthorized(AuthFailure::InvalidToken))?;
        let attempt = Attempt::password_check(
            &state.config.throttle,
            &state.digests,
            email,
            self.source_ip().as_deref(),
        );
        let checked = users::password_check(&state.db, self.credential(), &attempt).await?;
        let password_hash = self
            .checked(checked)?
            .map_err(|throttled| self.throttled(throttled))?
            // The account went between the token and now.
            .ok_or(ApiError::Unauthorized(AuthFailure::InvalidToken))?;
        let matches = state
            .passwords
            .verify(SecretString::from(password), Some(password_hash))
            .await?;
        if !matches {
            self.audit(AuditEvent::PasswordCheckFailed);
            return Err(ApiError::validation(wrong));
        }
        Ok(attempt)
    }
}
