//! What the account functions share: confirming the caller's current password, throttled
//! like a signin (the same counters) and timed like one (one argon2id verification,
//! right password or wrong).

use crate::access::Call;
use crate::audit::AuditEvent;
use crate::db::throttle::Attempt;
use crate::db::users::{self, PasswordCheck};
use crate::error::{ApiError, AuthFailure};
use crate::http;
use crate::secrecy::SecretString;

impl Call<'_> {
    /// Checks that `password` is the caller's (one of our accounts): a refused attempt is
    /// 429 and verifies nothing; a wrong password is 400 `wrong` and counts like a failed
    /// signin. The attempt, for the statement that then does the work to settle.
    pub async fn confirm_password(
        &self,
        password: String,
        wrong: &'static str,
    ) -> Result<Attempt, ApiError> {
        let email = self
            .caller
            .account_email
            .as_deref()
            .ok_or(ApiError::Unauthorized(AuthFailure::InvalidToken))?;
        let attempt = Attempt::password_check(
            &self.state.config.throttle,
            &self.state.digests,
            email,
            http::source_ip(self.req).as_deref(),
        );
        let checked = users::password_check(&self.state.db, self.credential(), &attempt).await?;
        let password_hash = match self.answer(checked)? {
            Some(PasswordCheck::Counted { password_hash }) => password_hash,
            Some(PasswordCheck::Throttled { retry_after_secs }) => {
                self.audit(AuditEvent::Throttled);
                return Err(ApiError::TooManyRequests { retry_after_secs });
            }
            // The account went between the token and now.
            None => return Err(ApiError::Unauthorized(AuthFailure::InvalidToken)),
        };
        let matches = self
            .state
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
