//! The contract's Security events table as one list: what a password reset, a password
//! change, a sign-out everywhere, an email change and an account deletion do to every kind
//! of credential and pending link an account can hold.
//!
//! Each kind is a [`Capability`], and [`Capability::fate`] is its row of the table: a match
//! over every event, so a kind of credential or link cannot be added without saying what
//! each event does to it. The statement of each event (reset-password's, change-password's,
//! signout's, verify-email's) takes its CTEs from [`SecurityEvent::ctes`], which walks
//! [`Capability::ALL`]: the event stays one statement, and no kind can be forgotten by one
//! of them. Account deletion voids every kind through the foreign keys (`ON DELETE
//! CASCADE`), which a test checks for every kind's table.

/// Something that happens to an account and ends some of what it handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityEvent {
    /// A mailed reset link set a new password.
    PasswordReset,
    /// The account holder changed the password (change-password), from one session.
    PasswordChanged,
    /// Sign out everywhere (`POST /api/auth/signout?scope=global`), from one session.
    SignedOutEverywhere,
    /// A change-of-email link was used: the account's email is another one now.
    EmailChanged,
    /// The account was deleted.
    AccountDeleted,
}

impl SecurityEvent {
    pub const ALL: [SecurityEvent; 5] = [
        SecurityEvent::PasswordReset,
        SecurityEvent::PasswordChanged,
        SecurityEvent::SignedOutEverywhere,
        SecurityEvent::EmailChanged,
        SecurityEvent::AccountDeleted,
    ];

    /// The CTE definitions that carry out this event for the account ids `accounts` yields
    /// (SQL: a query, usually over an earlier CTE, so nothing happens unless the event
    /// did), each `<name> AS (…), ` with its comma, to be followed by the statement's next
    /// CTE. `caller` names what the session that caused it keeps, where the table says so.
    /// Empty when the event voids nothing by statement (account deletion: the foreign keys
    /// do).
    pub fn ctes(self, accounts: &str, caller: &CallerKeeps) -> String {
        Capability::ALL
            .iter()
            .filter_map(|capability| capability.voiding_cte(self, accounts, caller))
            .map(|cte| cte + ", ")
            .collect()
    }
}

/// What the session that caused an event keeps when the table says "all but the
/// caller's": SQL expressions (usually parameters) for its session id (`uuid`) and its
/// device digests (`bytea[]`).
#[derive(Debug, Clone, Copy, Default)]
pub struct CallerKeeps<'a> {
    pub session: Option<&'a str>,
    pub devices: Option<&'a str>,
}

/// What an event does to one kind of credential or link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Keeps working.
    Kept,
    /// Every one of the account's is void at once.
    Void,
    /// Void, but for the caller's own (the session or device the event came from).
    VoidButCaller,
    /// Void with the account itself: its rows go with the account's (`ON DELETE CASCADE`).
    GoneWithAccount,
}

/// Declares the kinds of credential and link, and [`Capability::ALL`] listing each of
/// them, so the list cannot miss one.
macro_rules! capabilities {
    ($($(#[$doc:meta])* $name:ident,)+) => {
        /// A kind of credential or pending link an account can hold.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Capability {
            $($(#[$doc])* $name,)+
        }

        impl Capability {
            pub const ALL: &'static [Capability] = &[$(Capability::$name,)+];
        }
    };
}

capabilities! {
    /// Sessions: our tokens and session cookies.
    Sessions,
    /// Mailed password-reset links.
    ResetLinks,
    /// Pending change-of-email links, mailed to the address the account asked to move to.
    ChangeEmailLinks,
    /// The link that verifies the account's current address.
    VerificationLinks,
    /// Known devices' tokens (the `todo_device` cookie).
    Devices,
}

impl Capability {
    /// Its row of the Security events table.
    pub const fn fate(self, event: SecurityEvent) -> Fate {
        use Fate::*;
        use SecurityEvent::*;
        match self {
            Capability::Sessions => match event {
                PasswordReset | SignedOutEverywhere => Void,
                PasswordChanged => VoidButCaller,
                EmailChanged => Kept,
                AccountDeleted => GoneWithAccount,
            },
            // They went to the address: a changed one takes them with it.
            Capability::ResetLinks => match event {
                PasswordReset | PasswordChanged | SignedOutEverywhere | EmailChanged => Void,
                AccountDeleted => GoneWithAccount,
            },
            // Whoever once knew the password cannot keep a link that moves the recovered
            // account to their own mailbox. The email change itself consumes the used one.
            Capability::ChangeEmailLinks => match event {
                PasswordReset | PasswordChanged | SignedOutEverywhere | EmailChanged => Void,
                AccountDeleted => GoneWithAccount,
            },
            // Verifies the address only its owner reads; after a change of email it would
            // verify (and move the account back to) the former one.
            Capability::VerificationLinks => match event {
                PasswordReset | PasswordChanged | SignedOutEverywhere => Kept,
                EmailChanged => Void,
                AccountDeleted => GoneWithAccount,
            },
            Capability::Devices => match event {
                PasswordReset => Void,
                PasswordChanged | SignedOutEverywhere => VoidButCaller,
                EmailChanged => Kept,
                AccountDeleted => GoneWithAccount,
            },
        }
    }

    /// Where its rows live (in the default schema, as every statement names it) and which
    /// of them are this kind.
    pub const fn rows(self) -> Rows {
        match self {
            Capability::Sessions => Rows {
                table: "todo_api.sessions",
                kind: None,
                caller: Some(("id", CallerPart::Session)),
            },
            Capability::ResetLinks => Rows {
                table: "todo_api.password_resets",
                kind: None,
                caller: None,
            },
            Capability::ChangeEmailLinks => Rows {
                table: "todo_api.email_verifications",
                kind: Some("purpose = 'change'"),
                caller: None,
            },
            Capability::VerificationLinks => Rows {
                table: "todo_api.email_verifications",
                kind: Some("purpose = 'verify'"),
                caller: None,
            },
            Capability::Devices => Rows {
                table: "todo_api.devices",
                kind: None,
                caller: Some(("token_digest", CallerPart::Devices)),
            },
        }
    }

    /// The name of its CTE in an event's statement.
    fn cte_name(self) -> &'static str {
        match self {
            Capability::Sessions => "voided_sessions",
            Capability::ResetLinks => "voided_reset_links",
            Capability::ChangeEmailLinks => "voided_change_email_links",
            Capability::VerificationLinks => "voided_verification_links",
            Capability::Devices => "voided_devices",
        }
    }

    /// The CTE that carries out `event` on this kind, if its fate needs a statement.
    fn voiding_cte(
        self,
        event: SecurityEvent,
        accounts: &str,
        caller: &CallerKeeps,
    ) -> Option<String> {
        let rows = self.rows();
        let mut condition = format!("user_id IN ({accounts})");
        if let Some(kind) = rows.kind {
            condition.push_str(" AND ");
            condition.push_str(kind);
        }
        match self.fate(event) {
            Fate::Kept | Fate::GoneWithAccount => return None,
            Fate::Void => {}
            Fate::VoidButCaller => {
                // Without a caller's own to keep (none presented), all are void.
                let kept = rows.caller.and_then(|(column, part)| match part {
                    CallerPart::Session => caller.session.map(|s| format!("{column} <> {s}")),
                    CallerPart::Devices => caller
                        .devices
                        .map(|d| format!("NOT ({column} = ANY ({d}))")),
                });
                if let Some(kept) = kept {
                    condition.push_str(" AND ");
                    condition.push_str(&kept);
                }
            }
        }
        Some(format!(
            "{name} AS (DELETE FROM {table} WHERE {condition})",
            name = self.cte_name(),
            table = rows.table,
        ))
    }
}

/// Where a kind's rows live.
#[derive(Debug, Clone, Copy)]
pub struct Rows {
    /// The table, schema-qualified, with a `user_id` column referencing `users`.
    pub table: &'static str,
    /// The condition that picks this kind's rows, where the table holds other kinds too.
    pub kind: Option<&'static str>,
    /// The column a caller's own row is known by, and which part of the caller it holds.
    pub caller: Option<(&'static str, CallerPart)>,
}

/// Which of what a caller keeps a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerPart {
    Session,
    Devices,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_kept_by_the_caller_says_how_the_caller_is_known() {
        for capability in Capability::ALL {
            for event in SecurityEvent::ALL {
                if capability.fate(event) == Fate::VoidButCaller {
                    assert!(
                        capability.rows().caller.is_some(),
                        "{capability:?} keeps the caller's on {event:?} but has no caller column"
                    );
                }
            }
        }
    }

    #[test]
    fn account_deletion_voids_everything_and_only_it_leaves_it_to_the_foreign_keys() {
        for capability in Capability::ALL {
            for event in SecurityEvent::ALL {
                let fate = capability.fate(event);
                assert_eq!(
                    fate == Fate::GoneWithAccount,
                    event == SecurityEvent::AccountDeleted,
                    "{capability:?} on {event:?}"
                );
            }
        }
    }

    #[test]
    fn account_deletion_needs_no_statement_of_its_own() {
        let ctes =
            SecurityEvent::AccountDeleted.ctes("SELECT id FROM deleted", &CallerKeeps::default());
        assert_eq!(ctes, "");
    }

    #[test]
    fn a_password_change_keeps_the_callers_session_and_device_only() {
        let caller = CallerKeeps {
            session: Some("$1"),
            devices: Some("$9"),
        };
        let ctes = SecurityEvent::PasswordChanged.ctes("SELECT id FROM changed", &caller);
        assert_eq!(
            ctes,
            "voided_sessions AS (DELETE FROM todo_api.sessions WHERE user_id IN (SELECT id FROM changed) AND id <> $1), \
             voided_reset_links AS (DELETE FROM todo_api.password_resets WHERE user_id IN (SELECT id FROM changed)), \
             voided_change_email_links AS (DELETE FROM todo_api.email_verifications WHERE user_id IN (SELECT id FROM changed) AND purpose = 'change'), \
             voided_devices AS (DELETE FROM todo_api.devices WHERE user_id IN (SELECT id FROM changed) AND NOT (token_digest = ANY ($9))), "
        );
    }
}
