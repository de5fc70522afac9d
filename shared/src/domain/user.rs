//! A user's name, email and password as the contract accepts them.

use secrecy::SecretString;

use super::Invalid;

/// A display name: trimmed, 1 to 100 characters, any script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub const MAX_CHARS: usize = 100;

    /// Trimmed; required, at most 100 characters, in any script, without control
    /// characters (a name goes into logs and pages, and a newline could forge a line).
    pub fn parse(raw: Option<&str>) -> Result<Self, Invalid> {
        let name = raw.unwrap_or_default().trim();
        if name.is_empty() {
            return Err(Invalid::new("Name is required"));
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new("Name must be 100 characters or less"));
        }
        // U+0000 to U+001F and U+007F to U+009F: Unicode's Cc category.
        if name.chars().any(char::is_control) {
            return Err(Invalid::new("Name cannot contain control characters"));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address: trimmed, lowercased, at most 254 characters, `local@domain.tld`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_CHARS: usize = 254;
    /// The 400 for an address another account has (signup, change-email, and a change's
    /// link when the address was taken meanwhile).
    pub const TAKEN: &'static str = "Email already registered";

    /// The signup rule: presence, then shape.
    pub fn parse(raw: Option<&str>) -> Result<Self, Invalid> {
        let email = Self::normalise(raw).ok_or_else(|| Invalid::new("Email is required"))?;
        if !is_valid_address(&email) {
            return Err(Invalid::new("Please enter a valid email"));
        }
        Ok(Self(email))
    }

    /// The signin rule: presence only. A malformed address simply matches no user, which
    /// answers like any unknown email. NUL becomes U+FFFD because PostgreSQL text cannot
    /// hold it: no stored address has either, so such an address still matches no user and
    /// is looked up and throttled like any other instead of failing the statement.
    pub fn normalise(raw: Option<&str>) -> Option<String> {
        let email = raw
            .unwrap_or_default()
            .trim()
            .to_lowercase()
            .replace('\0', "\u{FFFD}");
        (!email.is_empty()).then_some(email)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_valid_address(email: &str) -> bool {
    if email.chars().count() > Email::MAX_CHARS {
        return false;
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    local_ok && domain_ok
}

/// A new password: 8 to 128 characters, kept exactly as typed (never trimmed or cut).
pub struct Password(SecretString);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: Option<String>) -> Result<Self, Invalid> {
        let password = raw.unwrap_or_default();
        if password.is_empty() {
            return Err(Invalid::new("Password is required"));
        }
        let chars = password.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(Invalid::new("Password must be at least 8 characters"));
        }
        if chars > Self::MAX_CHARS {
            return Err(Invalid::new("Password must be 128 characters or less"));
        }
        Ok(Self(SecretString::from(password)))
    }

    pub fn into_secret(self) -> SecretString {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(err: Invalid) -> String {
        err.to_string()
    }

    #[test]
    fn name_is_trimmed_and_bounded_in_characters() {
        assert_eq!(Name::parse(Some("  Ada  ")).unwrap().as_str(), "Ada");
        assert_eq!(
            message(Name::parse(Some("   ")).unwrap_err()),
            "Name is required"
        );
        assert_eq!(message(Name::parse(None).unwrap_err()), "Name is required");
        for controlled in [
            "Ada\0",
            "Ada\nLovelace",
            "Ada\rhttp://evil.example",
            "Ada\u{7f}",
            "Ada\u{85}x",
            "\u{9f}Ada",
        ] {
            assert_eq!(
                message(Name::parse(Some(controlled)).unwrap_err()),
                "Name cannot contain control characters",
                "{controlled:?}"
            );
        }
        assert!(Name::parse(Some("Zoë Ada-Lovelace 漢字 👩‍💻")).is_ok());
        let hundred_cjk = "漢".repeat(100);
        assert!(Name::parse(Some(&hundred_cjk)).is_ok());
        assert_eq!(
            message(Name::parse(Some(&"漢".repeat(101))).unwrap_err()),
            "Name must be 100 characters or less"
        );
    }

    #[test]
    fn email_is_trimmed_lowercased_and_checked() {
        assert_eq!(
            Email::parse(Some("  Ada@Example.COM ")).unwrap().as_str(),
            "ada@example.com"
        );
        assert_eq!(
            message(Email::parse(Some(" ")).unwrap_err()),
            "Email is required"
        );
        assert_eq!(
            Email::normalise(Some(" A\0@x.co")).as_deref(),
            Some("a\u{FFFD}@x.co")
        );
        assert_eq!(
            message(Email::parse(Some("a\0@x.co")).unwrap_err()),
            "Please enter a valid email"
        );
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@@example.com",
            "ada@-x.com",
            "a..b@example.com",
            "ada@example.c0m",
        ] {
            assert_eq!(
                message(Email::parse(Some(bad)).unwrap_err()),
                "Please enter a valid email",
                "{bad}"
            );
        }
        let local = "a".repeat(64);
        let domain = format!(
            "{}.com",
            ["b".repeat(63), "c".repeat(63), "d".repeat(57)].join(".")
        );
        let longest = format!("{local}@{domain}");
        assert_eq!(longest.len(), 254);
        assert!(Email::parse(Some(&longest)).is_ok());
        let too_long = format!("{local}@e{domain}");
        assert!(Email::parse(Some(&too_long)).is_err());
    }

    #[test]
    fn password_is_bounded_and_never_trimmed() {
        assert_eq!(
            message(Password::parse(None).err().unwrap()),
            "Password is required"
        );
        assert_eq!(
            message(Password::parse(Some("1234567".into())).err().unwrap()),
            "Password must be at least 8 characters"
        );
        assert!(Password::parse(Some("12345678".into())).is_ok());
        assert!(
            Password::parse(Some("  pad  ".into())).is_err(),
            "7 characters with spaces counted"
        );
        assert!(Password::parse(Some("x".repeat(128))).is_ok());
        assert_eq!(
            message(Password::parse(Some("x".repeat(129))).err().unwrap()),
            "Password must be 128 characters or less"
        );
    }
}
