//! The route table is the one source of truth: the `cargo lambda watch` router in the
//! workspace manifest and the local server must list exactly the same routes.

use std::collections::BTreeSet;

use shared::routes::ROUTES;

fn route_table() -> BTreeSet<(String, String, String)> {
    ROUTES
        .iter()
        .map(|r| {
            (
                r.method.to_owned(),
                r.path.to_owned(),
                r.function.to_owned(),
            )
        })
        .collect()
}

#[test]
fn cargo_lambda_watch_router_matches_the_route_table() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml")).unwrap();
    let manifest: toml::Table = toml::from_str(&manifest).unwrap();
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .expect("[workspace.metadata.lambda.watch.router]");
    let mut listed = BTreeSet::new();
    for (path, targets) in router {
        for target in targets.as_array().expect("a list of { method, function }") {
            let field = |name: &str| target[name].as_str().expect(name).to_owned();
            assert!(
                listed.insert((field("method"), path.clone(), field("function"))),
                "{path} listed twice"
            );
        }
    }
    assert_eq!(listed, route_table());
}

#[test]
fn every_function_crate_serves_a_route_and_every_route_has_a_crate() {
    let functions_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../functions");
    let crates: BTreeSet<String> = std::fs::read_dir(functions_dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "migrate")
        .collect();
    let routed: BTreeSet<String> = ROUTES.iter().map(|r| r.function.to_owned()).collect();
    assert_eq!(crates, routed);
    assert!(
        dev_server::missing_handlers().is_empty(),
        "{:?}",
        dev_server::missing_handlers()
    );
}
