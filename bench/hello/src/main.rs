//! An empty lambda_http function with the same runtime features as the real ones: what a
//! cold start costs before any of this project's work (the floor of the cold-start bench).

use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_: Request| async {
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from("{\"hello\":\"world\"}"))
            .map_err(Error::from)
    }))
    .await
}
