//! What the account functions share: confirming the caller's current password, throttled
//! like a signin (the same counters) and timed like one (one argon2id verification,
//! right password or wrong).

use crate::access::Authenticated;
use crate::audit::AuditEvent;
use crate::db::throttle::{self, PasswordAttempt, Settlement};
use crate::db::users;
use crate::error::{ApiError, AuthFailure};
use crate::secrecy::SecretString;

impl Authenticated<'_> {
    /// Checks that `password` is the caller's (one of our accounts): a refused attempt is
    /// 429 and verifies nothing; a wrong password is 400 `wrong` and counts like a failed
    /// signin, judged by a known device the request presents (`device_in_body`, or a device
    /// cookie) or else by the email's rules; a wrong one that fills the device's own
    /// counter voids the device at once.
    pub async fn confirm_password(
        &self,
        password: String,
        wrong: &'static str,
        device_in_body: Option<String>,
    ) -> Result<Confirmed, ApiError> {
        let state = self.state();
        let email = self
            .caller()
            .account_email
            .as_deref()
            .ok_or(ApiError::Unauthorized(AuthFailure::InvalidToken))?;
        let devices = self.presented_devices(device_in_body);
        let attempt = PasswordAttempt::new(
            &state.config.throttle,
            &state.digests,
            email,
            self.client_ip(),
            &devices,
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
            if let Some(device) = on_file.known_device.as_ref().filter(|d| d.last_chance) {
                throttle::void_spent_device(&state.db, device).await?;
            }
            self.audit(AuditEvent::PasswordCheckFailed);
            return Err(ApiError::validation(wrong));
        }
        Ok(Confirmed {
            settlement: attempt.settlement(on_file.known_device.as_ref()),
            known_device: on_file.known_device.map(|device| device.digest),
        })
    }
}

/// A confirmed password: what the statement that then does the work settles, and the
/// known device of the account the request was judged by, if any (the caller's own).
pub struct Confirmed {
    pub settlement: Settlement,
    pub known_device: Option<Vec<u8>>,
}

impl Confirmed {
    /// The digests of the caller's own devices, which a password change keeps.
    pub fn caller_devices(&self) -> Vec<Vec<u8>> {
        self.known_device.iter().cloned().collect()
    }
}
