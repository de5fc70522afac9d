//! Logging, set up once per process: JSON lines in Lambda (CloudWatch reads them; every
//! line inside a request carries its request id, function and route), readable text
//! locally. `RUST_LOG` filters.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

pub fn init() {
    let json = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    init_with(json, std::io::stdout);
}

/// As [`init`], writing to `writer`; `json` picks the Lambda format.
pub fn init_with<W>(json: bool, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let result = if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .try_init()
    } else {
        builder.try_init()
    };
    // A second init (tests spawning several servers) keeps the first subscriber.
    drop(result);
}
