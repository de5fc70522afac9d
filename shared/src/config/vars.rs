//! The name of every environment variable the API reads, each written here once: the
//! configuration reads them by these names, its errors quote them, and `cargo xtask
//! wiring` writes them into template.yaml.

// The database.
pub const DATABASE_CA_FILE: &str = "DATABASE_CA_FILE";
pub const DATABASE_CONNECT_TIMEOUT_SECS: &str = "DATABASE_CONNECT_TIMEOUT_SECS";
pub const DATABASE_POOL_SIZE: &str = "DATABASE_POOL_SIZE";
pub const DATABASE_PREPARED_STATEMENTS: &str = "DATABASE_PREPARED_STATEMENTS";
pub const DATABASE_SCHEMA: &str = "DATABASE_SCHEMA";
pub const DATABASE_STATEMENT_TIMEOUT_MS: &str = "DATABASE_STATEMENT_TIMEOUT_MS";
pub const DATABASE_URL: &str = "DATABASE_URL";
pub const DATABASE_URL_SECRET_ARN: &str = "DATABASE_URL_SECRET_ARN";

// Signing, tokens and cookies.
pub const BETTER_AUTH_SECRET: &str = "BETTER_AUTH_SECRET";
pub const BETTER_AUTH_SECRETS: &str = "BETTER_AUTH_SECRETS";
pub const BETTER_AUTH_SECRET_ARN: &str = "BETTER_AUTH_SECRET_ARN";
pub const JWT_EXPIRES_IN: &str = "JWT_EXPIRES_IN";
pub const COOKIE_SAMESITE: &str = "COOKIE_SAMESITE";
pub const ALLOWED_ORIGINS: &str = "ALLOWED_ORIGINS";
pub const TRUSTED_PROXY_SECRET: &str = "TRUSTED_PROXY_SECRET";

// The app's Better Auth server.
pub const BETTER_AUTH_URL: &str = "BETTER_AUTH_URL";
pub const BETTER_AUTH_ISSUER: &str = "BETTER_AUTH_ISSUER";
pub const BETTER_AUTH_AUDIENCE: &str = "BETTER_AUTH_AUDIENCE";
pub const BETTER_AUTH_JWKS_URL: &str = "BETTER_AUTH_JWKS_URL";
pub const BETTER_AUTH_SCHEMA: &str = "BETTER_AUTH_SCHEMA";
pub const BETTER_AUTH_REQUIRE_SIGNATURE: &str = "BETTER_AUTH_REQUIRE_SIGNATURE";

// Mail.
pub const EMAIL_FROM: &str = "EMAIL_FROM";
pub const APP_URL: &str = "APP_URL";
pub const RESET_TOKEN_TTL: &str = "RESET_TOKEN_TTL";
pub const VERIFY_TOKEN_TTL: &str = "VERIFY_TOKEN_TTL";
pub const EMAIL_VERIFICATION: &str = "EMAIL_VERIFICATION";

// Throttling.
pub const THROTTLE_RESET_EMAIL: &str = "THROTTLE_RESET_EMAIL";
pub const THROTTLE_RESET_IP: &str = "THROTTLE_RESET_IP";
pub const THROTTLE_SIGNIN_DEVICE: &str = "THROTTLE_SIGNIN_DEVICE";
pub const THROTTLE_SIGNIN_EMAIL: &str = "THROTTLE_SIGNIN_EMAIL";
pub const THROTTLE_SIGNIN_EMAIL_GLOBAL: &str = "THROTTLE_SIGNIN_EMAIL_GLOBAL";
pub const THROTTLE_SIGNIN_IP: &str = "THROTTLE_SIGNIN_IP";
pub const THROTTLE_SIGNUP_IP: &str = "THROTTLE_SIGNUP_IP";

// Set by AWS (Lambda, the SDK's conventions).
pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
pub const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
pub const AWS_ENDPOINT_URL_SECRETS_MANAGER: &str = "AWS_ENDPOINT_URL_SECRETS_MANAGER";
pub const AWS_ENDPOINT_URL_SESV2: &str = "AWS_ENDPOINT_URL_SESV2";
pub const AWS_LAMBDA_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
pub const AWS_LAMBDA_RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";
pub const AWS_REGION: &str = "AWS_REGION";
pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";

// Logging.
pub const RUST_LOG: &str = "RUST_LOG";
