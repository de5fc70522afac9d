//! Password-reset mail: the reset token (32 random bytes, base64url, stored only as its
//! SHA-256), the message (subject, text and HTML bodies with the link), and the [`Mailer`]
//! that delivers it: Amazon SES in the forgot-password function, a folder of files in the
//! local server.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub mod ses;

use crate::config::MailSettings;

pub const RESET_SUBJECT: &str = "Reset your password";

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

/// A new reset token and the digest that alone is stored.
pub struct ResetToken {
    pub token: String,
    pub digest: Vec<u8>,
}

impl ResetToken {
    pub fn generate() -> anyhow::Result<Self> {
        let token = crate::auth::digest::random_token()?;
        Ok(Self {
            digest: Self::digest_of(&token),
            token,
        })
    }

    /// What `password_resets.token_digest` holds for `token`.
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

/// The reset mail to `to`. It quotes nothing the account holder typed (not even the name:
/// a name is anybody's text, and this mail goes out from the app's verified sender).
pub fn reset_mail(settings: &MailSettings, to: &str, token: &str) -> Mail {
    let link = reset_link(settings, token);
    let minutes = settings.reset_token_ttl.as_secs() / 60;
    let text = format!(
        "Hello,\n\n\
         Someone asked to reset the password of your account. To choose a new one, open this \
         link within {minutes} minutes:\n\n{link}\n\n\
         If it was not you, ignore this message: your password stays as it is.\n"
    );
    let html = format!(
        "<!doctype html><html><body>\
         <p>Hello,</p>\
         <p>Someone asked to reset the password of your account. To choose a new one, open \
         this link within {minutes} minutes:</p>\
         <p><a href=\"{link}\">Reset your password</a></p>\
         <p>If it was not you, ignore this message: your password stays as it is.</p>\
         </body></html>",
        link = escape_html(&link),
    );
    Mail {
        from: settings.from.clone(),
        to: to.to_owned(),
        subject: RESET_SUBJECT.to_owned(),
        text,
        html,
    }
}

fn escape_html(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn tokens_are_32_random_bytes_stored_as_their_sha256() {
        let one = ResetToken::generate().unwrap();
        let two = ResetToken::generate().unwrap();
        assert_ne!(one.token, two.token);
        assert_eq!(one.token.len(), 43, "32 bytes, base64url without padding");
        assert!(
            one.token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(one.digest.len(), 32);
        assert_eq!(one.digest, ResetToken::digest_of(&one.token));
    }

    #[test]
    fn the_mail_carries_the_link_in_both_bodies_and_quotes_no_name() {
        let settings = MailSettings {
            from: "no-reply@example.com".into(),
            app_url: "https://app.example.com".into(),
            reset_token_ttl: Duration::from_secs(1800),
        };
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
