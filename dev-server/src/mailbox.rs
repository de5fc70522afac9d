//! The local server's mail: instead of sending, each message goes to a file of its own
//! (named in the log) under a folder (`target/dev-mail/` for `cargo run -p dev-server`), so the
//! whole password-reset and verification flows can be followed on one machine.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use shared::mail::{Mail, Mailer};

pub struct DevMailbox {
    dir: PathBuf,
    sent: AtomicU64,
}

impl DevMailbox {
    /// Mail goes to files in `dir` (created if need be).
    pub fn new(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self {
            dir: dir.to_owned(),
            sent: AtomicU64::new(0),
        })
    }

    /// Every message delivered to `to` so far, oldest first, as its file holds it.
    pub fn messages_to(&self, to: &str) -> anyhow::Result<Vec<String>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .collect();
        files.sort();
        let mut messages = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file)?;
            if text.lines().any(|line| line == format!("To: {to}")) {
                messages.push(text);
            }
        }
        Ok(messages)
    }
}

/// The token of the link to `page` (`<APP_URL>/reset-password`, `<APP_URL>/verify-email`)
/// in a mail's text.
pub fn link_token_in(mail: &str, page: &str) -> Option<String> {
    let link = format!("{page}?token=");
    let at = mail.find(&link)? + link.len();
    let token: String = mail[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    (!token.is_empty()).then_some(token)
}

impl Mailer for DevMailbox {
    fn send<'a>(
        &'a self,
        mail: &'a Mail,
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>> {
        Box::pin(async move {
            let millis = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| since.as_millis());
            let number = self.sent.fetch_add(1, Ordering::Relaxed);
            let file = self.dir.join(format!("{millis:015}-{number:04}.txt"));
            let text = format!(
                "From: {}\nTo: {}\nSubject: {}\n\n{}\n--- HTML ---\n{}\n",
                mail.from, mail.to, mail.subject, mail.text, mail.html
            );
            tokio::fs::write(&file, &text)
                .await
                .with_context(|| format!("writing {}", file.display()))?;
            // The address and the link stay in the file: a log line holds neither.
            tracing::info!(
                subject = %mail.subject,
                file = %file.display(),
                "mail not sent (local server), written to a file"
            );
            Ok(())
        })
    }
}
