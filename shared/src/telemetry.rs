//! Logging, set up once per process: JSON lines in Lambda (CloudWatch reads them; every
//! line inside a request carries its request id, function and route), readable text
//! locally. `RUST_LOG` filters, except that it cannot make the crates that see whole
//! requests log them: below `info`, lambda_runtime and lambda_http log entire events
//! (Authorization headers, password bodies) and tokio-postgres logs statement parameters.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

pub fn init() {
    let json = std::env::var_os(crate::config::vars::AWS_LAMBDA_FUNCTION_NAME).is_some();
    init_with(json, std::io::stdout);
}

/// As [`init`], writing to `writer`; `json` picks the Lambda format.
pub fn init_with<W>(json: bool, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = filter(std::env::var(crate::config::vars::RUST_LOG).ok().as_deref());
    let builder = tracing_subscriber::fmt().with_writer(writer);
    let result = if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .finish()
            .with(filter)
            .try_init()
    } else {
        // Colours only for a person at a terminal: a file or a pipe gets plain text.
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
        builder.with_ansi(terminal).finish().with(filter).try_init()
    };
    // A second init (tests spawning several servers) keeps the first subscriber.
    drop(result);
}

/// Crates whose debug and trace output holds credentials: held at `info` whatever
/// `RUST_LOG` says.
const CREDENTIAL_LOGGING_CRATES: [&str; 3] = ["lambda_runtime", "lambda_http", "tokio_postgres"];

/// `RUST_LOG` (default `info`), a list of `level` and `target=level` entries, with
/// [`CREDENTIAL_LOGGING_CRATES`] held at `info`. (`tracing_subscriber`'s `Targets` rather
/// than `EnvFilter`: the same syntax without span filters, and no regex engine, 0.2 MB, in
/// every function.)
fn filter(rust_log: Option<&str>) -> Targets {
    let base = rust_log
        .filter(|spec| !spec.trim().is_empty())
        .and_then(|spec| spec.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    CREDENTIAL_LOGGING_CRATES
        .iter()
        .fold(base, |filter, target| {
            filter.with_target(*target, LevelFilter::INFO)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a subscriber filtered by `rust_log` would log `target` at `level`.
    fn logs(rust_log: Option<&str>, target: &str, level: tracing::Level) -> bool {
        let subscriber = tracing_subscriber::registry().with(filter(rust_log));
        tracing::subscriber::with_default(subscriber, || match (target, level) {
            ("lambda_runtime", tracing::Level::DEBUG) => {
                tracing::enabled!(target: "lambda_runtime", tracing::Level::DEBUG)
            }
            ("lambda_runtime", _) => {
                tracing::enabled!(target: "lambda_runtime", tracing::Level::INFO)
            }
            ("lambda_http", _) => tracing::enabled!(target: "lambda_http", tracing::Level::TRACE),
            ("tokio_postgres", _) => {
                tracing::enabled!(target: "tokio_postgres", tracing::Level::DEBUG)
            }
            _ => tracing::enabled!(target: "shared", tracing::Level::TRACE),
        })
    }

    #[test]
    fn rust_log_cannot_open_the_crates_that_log_whole_requests() {
        use tracing::Level;
        for rust_log in [
            Some("trace"),
            Some("debug,lambda_runtime=trace,lambda_http=trace,tokio_postgres=trace"),
            None,
        ] {
            assert!(
                !logs(rust_log, "lambda_runtime", Level::DEBUG),
                "{rust_log:?}"
            );
            assert!(!logs(rust_log, "lambda_http", Level::TRACE), "{rust_log:?}");
            assert!(
                !logs(rust_log, "tokio_postgres", Level::DEBUG),
                "{rust_log:?}"
            );
            assert!(
                logs(rust_log, "lambda_runtime", Level::INFO),
                "{rust_log:?}"
            );
        }
        assert!(
            logs(Some("trace"), "shared", Level::TRACE),
            "the rest follows RUST_LOG"
        );
        assert!(!logs(None, "shared", Level::TRACE));
    }
}
