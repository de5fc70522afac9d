//! Secrets from AWS Secrets Manager: when `BETTER_AUTH_SECRET_ARN` or
//! `DATABASE_URL_SECRET_ARN` is set, the value is read once per cold start, before the first
//! request, and takes the place of the plain variable. The signing secret's may hold one
//! secret or the `BETTER_AUTH_SECRETS` list.

use std::collections::HashMap;

use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};

use crate::aws::AwsEnvironment;
use crate::config::ConfigError;

/// Which variable each ARN variable stands in for.
pub const SECRET_ARNS: [(&str, &str); 2] = [
    (
        crate::config::vars::BETTER_AUTH_SECRET_ARN,
        crate::config::vars::BETTER_AUTH_SECRET,
    ),
    (
        crate::config::vars::DATABASE_URL_SECRET_ARN,
        crate::config::vars::DATABASE_URL,
    ),
];

const ACCESS_DENIED: &str =
    "access denied (the function needs secretsmanager:GetSecretValue on it)";

/// `lookup` with every secret whose ARN variable is set fetched (once, now) and standing in
/// for its plain variable: what a cold start reads its configuration through.
pub async fn resolve(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<impl Fn(&str) -> Option<String>, ConfigError> {
    let fetched = fetch(&lookup).await?;
    Ok(move |name: &str| {
        // The stored signing secret, one or a list, stands in for both forms of it.
        if name == crate::config::vars::BETTER_AUTH_SECRETS
            && fetched.contains_key(crate::config::vars::BETTER_AUTH_SECRET)
        {
            return None;
        }
        fetched.get(name).cloned().or_else(|| lookup(name))
    })
}

/// The configuration of a function that authenticates, from `lookup` (the process
/// environment in a cold start) with its secrets fetched.
pub async fn load_config(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<crate::config::Config, ConfigError> {
    crate::config::Config::from_lookup(resolve(lookup).await?)
}

/// Fetches every secret whose ARN variable is set; returns variable name → value. The SDK
/// is configured only when there is something to fetch, so plain deployments pay nothing.
/// `lookup` is the environment (tests pass their own): region, credentials and the
/// standard endpoint variables are read through it.
pub async fn fetch(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<HashMap<&'static str, String>, ConfigError> {
    let wanted: Vec<(&'static str, &'static str, String)> = SECRET_ARNS
        .iter()
        .filter_map(|(arn_var, var)| {
            let arn = lookup(arn_var).filter(|arn| !arn.trim().is_empty())?;
            Some((*arn_var, *var, arn.trim().to_owned()))
        })
        .collect();
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }

    let client = client(lookup)?;
    let mut values = HashMap::new();
    for (arn_var, var, arn) in wanted {
        let answer = client
            .get_secret_value()
            .secret_id(&arn)
            .send()
            .await
            .map_err(|err| {
                // AWS answers a missing permission with AccessDeniedException; a 403 whose
                // body the SDK cannot read (proxies, emulators) means the same.
                let forbidden = err
                    .raw_response()
                    .is_some_and(|raw| raw.status().as_u16() == 403);
                let reason = match err.code() {
                    Some("ResourceNotFoundException") => "secret not found".to_owned(),
                    Some("AccessDeniedException") => ACCESS_DENIED.to_owned(),
                    _ if forbidden => ACCESS_DENIED.to_owned(),
                    _ => format!("cannot read the secret: {}", DisplayErrorContext(&err)),
                };
                ConfigError::Invalid {
                    name: arn_var,
                    reason,
                }
            })?;
        let value = answer.secret_string().ok_or(ConfigError::Invalid {
            name: arn_var,
            reason: "the secret has no string value".to_owned(),
        })?;
        values.insert(var, value.to_owned());
    }
    Ok(values)
}

/// A Secrets Manager client configured from the environment Lambda gives every function
/// ([`AwsEnvironment`]).
fn client(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<aws_sdk_secretsmanager::Client, ConfigError> {
    let env = AwsEnvironment::from_lookup(
        lookup,
        crate::config::vars::AWS_ENDPOINT_URL_SECRETS_MANAGER,
    )?;
    Ok(aws_sdk_secretsmanager::Client::new(&env.sdk_config()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    }

    const ARN: (&str, &str) = (
        "BETTER_AUTH_SECRET_ARN",
        "arn:aws:secretsmanager:eu-west-1:1:secret:x",
    );

    #[tokio::test]
    async fn an_arn_without_region_or_credentials_names_what_is_missing() {
        assert_eq!(
            fetch(&env(&[ARN])).await,
            Err(ConfigError::Missing("AWS_REGION"))
        );
        assert_eq!(
            fetch(&env(&[ARN, ("AWS_REGION", "eu-west-1")])).await,
            Err(ConfigError::Missing("AWS_ACCESS_KEY_ID"))
        );
        assert_eq!(
            fetch(&env(&[])).await,
            Ok(HashMap::new()),
            "nothing to fetch"
        );
    }
}
