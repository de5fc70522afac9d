//! Lambda entry point: the cold start, then events served by the handler.

fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(&send_verification_email::FUNCTION)
}
