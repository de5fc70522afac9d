//! TLS to PostgreSQL with certificate and host-name verification, through the same pool
//! code the functions use.

use std::time::Duration;

use shared::config::DatabaseSettings;
use shared::db::{ConnectTarget, Db};

use crate::helpers::private_cluster;

fn settings(url: &str, ca_file: Option<std::path::PathBuf>) -> DatabaseSettings {
    DatabaseSettings {
        target: ConnectTarget::parse(&shared::secrecy::SecretString::from(url.to_owned()))
            .expect("url"),
        pool_size: 1,
        extra_ca_file: ca_file,
        connect_timeout: Duration::from_secs(5),
        statement_timeout: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn verify_full_connects_over_tls_with_the_extra_ca() {
    let private = private_cluster();
    let db = Db::connect_lazy(&settings(
        &private.cluster.tls_url("postgres"),
        Some(private.ca_file.clone()),
    ))
    .expect("pool");
    let row = db
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("TLS connection");
    assert!(row.get::<_, bool>(0), "the connection is encrypted");
}

#[tokio::test]
async fn an_unknown_certificate_is_refused() {
    let private = private_cluster();
    let db = Db::connect_lazy(&settings(&private.cluster.tls_url("postgres"), None)).expect("pool");
    let err = db
        .query("SELECT 1", &[])
        .await
        .expect_err("self-signed chain without the CA must fail");
    assert!(format!("{:?}", err).contains("UnknownIssuer"), "{err:?}");
}

#[tokio::test]
async fn a_host_name_the_certificate_does_not_name_is_refused() {
    let private = private_cluster();
    let url = private
        .cluster
        .tls_url("postgres")
        .replace("localhost", "127.0.0.1");
    let db = Db::connect_lazy(&settings(&url, Some(private.ca_file.clone()))).expect("pool");
    let err = db
        .query("SELECT 1", &[])
        .await
        .expect_err("certificate is for localhost only");
    assert!(
        format!("{:?}", err).contains("certificate not valid for name"),
        "{err:?}"
    );
}
