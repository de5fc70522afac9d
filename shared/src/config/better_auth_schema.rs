//! `BETTER_AUTH_SCHEMA`: where the app's Better Auth keeps its users, sessions and keys, in
//! the shape of Better Auth's own options (`modelName` and `fields` per model), so an app
//! copies what its `auth.ts` says: Drizzle with `usePlural` or snake_case columns, Prisma,
//! renamed models. Models and fields left out keep Better Auth's defaults; a `modelName`
//! may name a schema (`auth.session`), and without one means `public`, where Better Auth
//! creates its tables. Every name is written into SQL quoted, so any spelling is safe.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The three models the API reads, as SQL names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BetterAuthSchema {
    pub user: Model,
    pub session: Model,
    pub jwks: Model,
}

/// One model: its table, and its columns by Better Auth's field names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Model {
    /// The schema-qualified table, quoted: `"public"."session"`.
    pub table: String,
    /// What a reader of a log is told: `public.session`.
    pub display: String,
    columns: BTreeMap<String, String>,
}

/// Better Auth's default model names, and the fields the API reads of each.
const DEFAULTS: [(&str, &[&str]); 3] = [
    ("user", &["id", "email", "name", "emailVerified"]),
    ("session", &["id", "token", "userId", "expiresAt"]),
    ("jwks", &["id", "publicKey", "expiresAt", "alg"]),
];

#[derive(Deserialize, Default)]
struct ModelOptions {
    #[serde(rename = "modelName")]
    model_name: Option<String>,
    #[serde(default)]
    fields: BTreeMap<String, String>,
}

impl Model {
    /// The quoted column of Better Auth's `field` (a field the API reads).
    pub fn column(&self, field: &str) -> String {
        quote(self.columns.get(field).map_or(field, String::as_str))
    }

    /// The name of `field`'s column as a reader of a log is told it.
    pub fn column_name<'a>(&'a self, field: &'a str) -> &'a str {
        self.columns.get(field).map_or(field, String::as_str)
    }

    /// The fields the API reads of this model.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.columns.keys().map(String::as_str)
    }

    fn new(default_name: &str, fields: &[&str], options: ModelOptions) -> Result<Self, String> {
        let name = options
            .model_name
            .unwrap_or_else(|| default_name.to_owned());
        let (schema, table) = match name.split_once('.') {
            Some((schema, table)) => (schema.to_owned(), table.to_owned()),
            None => ("public".to_owned(), name.clone()),
        };
        if schema.is_empty() || table.is_empty() {
            return Err(format!(
                "`{name}` is not a table name (model {default_name})"
            ));
        }
        let mut columns = BTreeMap::new();
        for field in fields {
            let column = options
                .fields
                .get(*field)
                .cloned()
                .unwrap_or_else(|| (*field).to_owned());
            if column.is_empty() {
                return Err(format!("the column of {default_name}.{field} is empty"));
            }
            columns.insert((*field).to_owned(), column);
        }
        Ok(Self {
            table: format!("{}.{}", quote(&schema), quote(&table)),
            display: format!("{schema}.{table}"),
            columns,
        })
    }
}

impl BetterAuthSchema {
    /// Parses `BETTER_AUTH_SCHEMA`'s JSON; models and keys the API does not read are
    /// ignored.
    pub fn parse(json: &str) -> Result<Self, String> {
        let mut options: BTreeMap<String, serde_json::Value> = serde_json::from_str(json)
            .map_err(|err| format!("not a JSON object of Better Auth's options: {err}"))?;
        let mut model = |name: &str, fields: &[&str]| {
            let options = match options.remove(name) {
                Some(value) => {
                    serde_json::from_value(value).map_err(|err| format!("model {name}: {err}"))?
                }
                None => ModelOptions::default(),
            };
            Model::new(name, fields, options)
        };
        let [
            (user, user_fields),
            (session, session_fields),
            (jwks, jwks_fields),
        ] = DEFAULTS;
        Ok(Self {
            user: model(user, user_fields)?,
            session: model(session, session_fields)?,
            jwks: model(jwks, jwks_fields)?,
        })
    }

    /// Every model with its display name: what the cold start checks exists.
    pub fn models(&self) -> [&Model; 3] {
        [&self.user, &self.session, &self.jwks]
    }
}

impl Default for BetterAuthSchema {
    fn default() -> Self {
        // Better Auth's own names: the parse of an empty object cannot fail.
        Self::parse("{}").unwrap_or_else(|_| Self {
            user: Model::empty("user"),
            session: Model::empty("session"),
            jwks: Model::empty("jwks"),
        })
    }
}

impl Model {
    fn empty(name: &str) -> Self {
        Self {
            table: quote(name),
            display: name.to_owned(),
            columns: BTreeMap::new(),
        }
    }
}

/// `name` as a quoted SQL identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// SQL reading a timestamp column (`column`, an SQL expression) as `timestamptz` whether
/// it was made with or without time zone: without, its value is UTC (Better Auth writes
/// UTC), whatever the connection's `TimeZone`.
pub fn utc(column: &str) -> String {
    format!(
        "(CASE WHEN pg_typeof({column}) = 'timestamp without time zone'::regtype \
              THEN ({column})::text::timestamp AT TIME ZONE 'UTC' \
              ELSE ({column})::text::timestamptz END)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn better_auths_defaults_without_options() {
        let schema = BetterAuthSchema::default();
        assert_eq!(schema.user.table, r#""public"."user""#);
        assert_eq!(schema.session.column("expiresAt"), r#""expiresAt""#);
        assert_eq!(schema.jwks.column("publicKey"), r#""publicKey""#);
    }

    #[test]
    fn drizzle_plural_snake_case_and_a_schema_of_its_own() {
        let schema = BetterAuthSchema::parse(
            r#"{"user": {"modelName": "users", "fields": {"emailVerified": "email_verified"}},
                "session": {"modelName": "auth.sessions",
                            "fields": {"userId": "user_id", "expiresAt": "expires_at"}},
                "account": {"modelName": "accounts"},
                "advanced": true}"#,
        )
        .unwrap();
        assert_eq!(schema.user.table, r#""public"."users""#);
        assert_eq!(schema.user.column("emailVerified"), r#""email_verified""#);
        assert_eq!(schema.user.column("email"), r#""email""#);
        assert_eq!(schema.session.table, r#""auth"."sessions""#);
        assert_eq!(schema.session.display, "auth.sessions");
        assert_eq!(schema.session.column("userId"), r#""user_id""#);
        assert_eq!(schema.jwks.table, r#""public"."jwks""#);
    }

    #[test]
    fn names_are_quoted_and_nonsense_is_refused() {
        let schema = BetterAuthSchema::parse(r#"{"user": {"modelName": "we\"ird"}}"#).unwrap();
        assert_eq!(schema.user.table, r#""public"."we""ird""#);
        for bad in [
            "[]",
            "not json",
            r#"{"user": {"modelName": 3}}"#,
            r#"{"user": {"modelName": ".x"}}"#,
            r#"{"session": {"fields": {"token": ""}}}"#,
        ] {
            assert!(BetterAuthSchema::parse(bad).is_err(), "{bad}");
        }
    }
}
