//! The mail the API sends (a password-reset link, an address's verification link, the
//! notice of a changed address): the links' tokens (32 random bytes, base64url, stored only
//! as their SHA-256), the messages (subject, text and HTML bodies), and the [`Mailer`]
//! that delivers them: Amazon SES in Lambda, a folder of files in the local server.

use crate::http::escape_html;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub mod ses;

use crate::config::MailSettings;

pub const RESET_SUBJECT: &str = "Reset your password";
pub const VERIFY_SUBJECT: &str = "Verify your email";
pub const EMAIL_CHANGED_SUBJECT: &str = "Your email was changed";
pub const CHANGE_SUBJECT: &str = "Confirm your new email";

/// One message to one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Delivers mail.
pub trait Mailer: Send + Sync {
    fn send<'a>(
        &'a self,
        mail: &'a Mail,
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;
}

/// What a function that mails sends with: the settings and the mailer.
pub struct Mailbox {
    pub settings: MailSettings,
    pub mailer: Arc<dyn Mailer>,
}

impl Mailbox {
    /// Sends `mail`: whether it went. A failure (SES refusing an unverified sender, say)
    /// is logged as an error with its cause and never answered: the client learns nothing
    /// of an address from whether a mail to it could be sent.
    pub async fn deliver(&self, mail: &Mail) -> bool {
        match self.mailer.send(mail).await {
            Ok(()) => true,
            Err(err) => {
                tracing::error!(error = ?err, subject = %mail.subject, "mail not sent");
                false
            }
        }
    }
}

/// A new token for a mailed link (a reset, a verification) and the digest that alone is
/// stored.
pub struct LinkToken {
    pub token: String,
    pub digest: Vec<u8>,
}

impl LinkToken {
    pub fn generate() -> anyhow::Result<Self> {
        let token = crate::auth::digest::random_token()?;
        Ok(Self {
            digest: Self::digest_of(&token),
            token,
        })
    }

    /// What `password_resets.token_digest` (or `email_verifications.token_digest`) holds
    /// for `token`.
    pub fn digest_of(token: &str) -> Vec<u8> {
        ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
            .as_ref()
            .to_vec()
    }
}

/// The reset link for `token`: the frontend's `/reset-password` page.
pub fn reset_link(settings: &MailSettings, token: &str) -> String {
    format!("{}/reset-password?token={token}", settings.app_url)
}

/// The verification link for `token`: the frontend's `/verify-email` page.
pub fn verification_link(settings: &MailSettings, token: &str) -> String {
    format!("{}/verify-email?token={token}", settings.app_url)
}

/// The reset mail to `to`. Like every mail here, it quotes nothing the account holder
/// typed (not even the name: a name is anybody's text, and the mail goes out from the
/// app's verified sender).
pub fn reset_mail(settings: &MailSettings, to: &str, token: &str) -> Mail {
    let within = lifetime(settings.reset_token_ttl);
    compose(
        settings,
        to,
        RESET_SUBJECT,
        &format!(
            "Someone asked to reset the password of your account. To choose a new one, open \
             this link within {within}:"
        ),
        Some((&reset_link(settings, token), "Reset your password")),
        "If it was not you, ignore this message: your password stays as it is.",
    )
}

/// The mail that asks `to`, the address a signup gave, to confirm it is theirs.
pub fn verification_mail(settings: &MailSettings, to: &str, token: &str) -> Mail {
    let within = lifetime(settings.verify_token_ttl);
    compose(
        settings,
        to,
        VERIFY_SUBJECT,
        &format!(
            "To confirm that this address is yours and finish setting up your account, open \
             this link within {within}:"
        ),
        Some((&verification_link(settings, token), "Verify your email")),
        "If you did not sign up, ignore this message.",
    )
}

/// The mail to `to`, the address an existing account asked to move to. It must not read
/// like a signup: a stranger who clicks it would attach their address, verified, to
/// somebody else's account.
pub fn change_mail(settings: &MailSettings, to: &str, token: &str) -> Mail {
    let within = lifetime(settings.verify_token_ttl);
    compose(
        settings,
        to,
        CHANGE_SUBJECT,
        &format!(
            "An existing account asked to change its email to this address. If that was you, \
             open this link within {within} to confirm it: the account will then sign in \
             with this address."
        ),
        Some((
            &verification_link(settings, token),
            "Confirm your new email",
        )),
        "If you did not ask for this, ignore this message: no account will use this address, \
         and nothing of yours changes.",
    )
}

/// The notice to an account's former address that the account's email changed. It names
/// no new address: whoever reads the old mailbox learns nothing of the new one.
pub fn email_changed_mail(settings: &MailSettings, to: &str) -> Mail {
    compose(
        settings,
        to,
        EMAIL_CHANGED_SUBJECT,
        "The email address of your account was changed, and this address no longer signs in.",
        None,
        "If it was not you, reset your password from the new address's mailbox, or contact us.",
    )
}

/// A link's lifetime in words: minutes below two hours, else hours.
fn lifetime(ttl: std::time::Duration) -> String {
    let minutes = ttl.as_secs() / 60;
    match minutes {
        m if m < 120 => format!("{m} minutes"),
        m => format!("{} hours", m / 60),
    }
}

/// A mail of the API's one shape: a greeting, `lead`, the link (its URL and its caption),
/// and `closing`, as text and as HTML.
fn compose(
    settings: &MailSettings,
    to: &str,
    subject: &str,
    lead: &str,
    link: Option<(&str, &str)>,
    closing: &str,
) -> Mail {
    let text_link = link
        .map(|(url, _)| format!("{url}\n\n"))
        .unwrap_or_default();
    let html_link = link
        .map(|(url, caption)| {
            format!(
                "<p><a href=\"{}\">{}</a></p>",
                escape_html(url),
                escape_html(caption)
            )
        })
        .unwrap_or_default();
    Mail {
        from: settings.from.clone(),
        to: to.to_owned(),
        subject: subject.to_owned(),
        text: format!("Hello,\n\n{lead}\n\n{text_link}{closing}\n"),
        html: format!(
            "<!doctype html><html><body><p>Hello,</p><p>{}</p>{html_link}<p>{}</p></body></html>",
            escape_html(lead),
            escape_html(closing)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn tokens_are_32_random_bytes_stored_as_their_sha256() {
        let one = LinkToken::generate().unwrap();
        let two = LinkToken::generate().unwrap();
        assert_ne!(one.token, two.token);
        assert_eq!(one.token.len(), 43, "32 bytes, base64url without padding");
        assert!(
            one.token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(one.digest.len(), 32);
        assert_eq!(one.digest, LinkToken::digest_of(&one.token));
    }

    fn settings() -> MailSettings {
        MailSettings {
            from: "no-reply@example.com".into(),
            app_url: "https://app.example.com".into(),
            reset_token_ttl: Duration::from_secs(1800),
            verify_token_ttl: Duration::from_secs(86_400),
            verification: crate::config::EmailVerification::Optional,
        }
    }

    #[test]
    fn verification_and_change_notices() {
        let mail = verification_mail(&settings(), "ada@example.com", "tok_-1");
        assert_eq!(mail.subject, "Verify your email");
        let link = "https://app.example.com/verify-email?token=tok_-1";
        assert!(mail.text.contains(link) && mail.html.contains(link));
        assert!(mail.text.contains("within 24 hours"), "{}", mail.text);
        let notice = email_changed_mail(&settings(), "old@example.com");
        assert_eq!(notice.subject, "Your email was changed");
        assert_eq!(notice.to, "old@example.com");
        assert!(!notice.text.contains("http") && !notice.html.contains("href"));
    }

    #[test]
    fn the_change_of_email_mail_is_not_the_signup_mail() {
        let signup = verification_mail(&settings(), "ada@example.com", "tok_-1");
        let change = change_mail(&settings(), "ada@example.com", "tok_-1");
        assert_eq!(change.subject, "Confirm your new email");
        let link = "https://app.example.com/verify-email?token=tok_-1";
        assert!(change.text.contains(link) && change.html.contains(link));
        assert!(
            change
                .text
                .contains("An existing account asked to change its email to this address"),
            "{}",
            change.text
        );
        assert!(
            change
                .text
                .contains("If you did not ask for this, ignore this message")
        );
        assert!(!change.text.contains("sign up") && !signup.text.contains("existing account"));
        assert_ne!(change.html, signup.html);
    }

    #[test]
    fn the_mail_carries_the_link_in_both_bodies_and_quotes_no_name() {
        let settings = settings();
        let mail = reset_mail(&settings, "ada@example.com", "abc_-123");
        assert_eq!(mail.subject, "Reset your password");
        assert_eq!(
            (mail.from.as_str(), mail.to.as_str()),
            ("no-reply@example.com", "ada@example.com")
        );
        let link = "https://app.example.com/reset-password?token=abc_-123";
        assert!(mail.text.contains(link) && mail.html.contains(link));
        assert!(mail.text.contains("30 minutes"));
        assert!(mail.text.starts_with("Hello,\n") && mail.html.contains("<p>Hello,</p>"));
    }
}
