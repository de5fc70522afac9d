//! Secrets read from a real Secrets Manager API: a local moto server (`pip install
//! 'moto[server]'`). Ignored by plain `cargo test` because it needs that server; CI runs it
//! with `--ignored` (set `MOTO_SERVER` to the binary if it is not on PATH).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use dev_server::fixtures::moto::Moto;
use shared::auth::TokenKeys;
use shared::secrecy::ExposeSecret;

fn env(moto: &Moto, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut vars = moto.env(&[("DATABASE_URL", "postgres://u@localhost/db")]);
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    vars
}

async fn store(moto: &Moto, name: &str, value: &str) -> String {
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .endpoint_url(&moto.endpoint)
        .http_client(shared::aws::https_client())
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .build();
    let client = aws_sdk_secretsmanager::Client::from_conf(config);
    let created = client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("create secret");
    created.arn().expect("arn").to_owned()
}

#[tokio::test]
#[ignore = "needs moto_server; CI runs it with --ignored"]
async fn secrets_come_from_secrets_manager_and_sign_tokens() {
    let moto = Moto::start().await;
    let stored = "secret-from-secrets-manager-0123456789abcdef";
    let auth_arn = store(&moto, "todo/auth", stored).await;
    let db_arn = store(
        &moto,
        "todo/db",
        "postgres://app:pw@db.example.com/todo?sslmode=verify-full",
    )
    .await;
    let vars = env(
        &moto,
        &[
            ("BETTER_AUTH_SECRET_ARN", &auth_arn),
            (
                "BETTER_AUTH_SECRET",
                "a-plain-variable-that-must-be-ignored-here",
            ),
            ("DATABASE_URL_SECRET_ARN", &db_arn),
        ],
    );
    let config = shared::secrets::load_config(|name| vars.get(name).cloned())
        .await
        .expect("config");
    assert_eq!(config.secrets.current().expose_secret(), stored);
    assert_eq!(
        config.http.database.target.config.get_dbname(),
        Some("todo")
    );

    let keys = TokenKeys::new(&config.secrets, Duration::from_secs(60));
    let issued = keys.issue(uuid::Uuid::new_v4(), "a@b.co", "A").unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_required_spec_claims(&["exp"]);
    jsonwebtoken::decode::<serde_json::Value>(
        &issued.token,
        &jsonwebtoken::DecodingKey::from_secret(stored.as_bytes()),
        &validation,
    )
    .expect("signed with the stored secret");
}

#[tokio::test]
#[ignore = "needs moto_server; CI runs it with --ignored"]
async fn the_stored_secret_may_be_a_rotation_list() {
    let moto = Moto::start().await;
    let (new, old) = (
        "the-newest-stored-secret-0123456789abcdef",
        "the-older-stored-secret-fedcba9876543210",
    );
    let arn = store(&moto, "todo/rotating", &format!("2:{new},1:{old}")).await;
    let vars = env(
        &moto,
        &[
            ("BETTER_AUTH_SECRET_ARN", &arn),
            (
                "BETTER_AUTH_SECRETS",
                "9:a-plain-list-that-must-be-ignored-0123456789",
            ),
        ],
    );
    let config = shared::secrets::load_config(|name| vars.get(name).cloned())
        .await
        .expect("config");
    assert_eq!(config.secrets.current().expose_secret(), new);
    assert_eq!(config.secrets.current_version(), Some("2"));
    let listed: Vec<_> = config
        .secrets
        .all()
        .map(|(version, secret)| (version.clone(), secret.expose_secret().to_owned()))
        .collect();
    assert_eq!(
        listed,
        [
            (Some("2".to_owned()), new.to_owned()),
            (Some("1".to_owned()), old.to_owned())
        ]
    );
}

#[tokio::test]
#[ignore = "needs moto_server; CI runs it with --ignored"]
async fn a_missing_or_short_secret_stops_start_up_naming_the_variable() {
    let moto = Moto::start().await;
    let missing = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:todo/none-AbCdEf";
    let vars = env(&moto, &[("BETTER_AUTH_SECRET_ARN", missing)]);
    let err = shared::secrets::load_config(|name| vars.get(name).cloned())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "BETTER_AUTH_SECRET_ARN is invalid: secret not found"
    );

    let short = store(&moto, "todo/short", "too-short").await;
    let vars = env(&moto, &[("BETTER_AUTH_SECRET_ARN", &short)]);
    let err = shared::secrets::load_config(|name| vars.get(name).cloned())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "BETTER_AUTH_SECRET is invalid: must be at least 32 characters; generate one with `openssl rand -base64 32`"
    );
}

/// An IAM call to moto.
async fn iam(moto: &Moto, form: &str) -> String {
    moto.query_api("iam", "2010-05-08", form)
        .await
        .expect("IAM call")
}

fn xml_value(xml: &str, tag: &str) -> String {
    let start = xml.find(&format!("<{tag}>")).expect(tag) + tag.len() + 2;
    let end = start + xml[start..].find('<').expect(tag);
    xml[start..end].to_owned()
}

#[tokio::test]
#[ignore = "needs moto_server; CI runs it with --ignored"]
async fn a_role_without_get_secret_value_is_told_access_denied() {
    // Three setup calls run unauthenticated; from then on moto enforces IAM.
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]).await;
    let arn = store(
        &moto,
        "todo/auth",
        "secret-from-secrets-manager-0123456789abcdef",
    )
    .await;
    iam(&moto, "Action=CreateUser&UserName=no-secrets").await;
    let key = iam(&moto, "Action=CreateAccessKey&UserName=no-secrets").await;
    let (key_id, key_secret) = (
        xml_value(&key, "AccessKeyId"),
        xml_value(&key, "SecretAccessKey"),
    );
    let vars = env(
        &moto,
        &[
            ("BETTER_AUTH_SECRET_ARN", &arn),
            ("AWS_ACCESS_KEY_ID", &key_id),
            ("AWS_SECRET_ACCESS_KEY", &key_secret),
        ],
    );
    let err = shared::secrets::load_config(|name| vars.get(name).cloned())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "BETTER_AUTH_SECRET_ARN is invalid: access denied (the function needs secretsmanager:GetSecretValue on it)"
    );
}
