//! The route table is the one source of truth: the `cargo lambda watch` router in the
//! workspace manifest and the local server must list exactly the same routes.

use std::collections::{BTreeMap, BTreeSet};

use shared::routes::ROUTES;

/// Functions deployed without an HTTP route: migrations, invoked after a deploy, and the
/// scheduled clean-up.
const UNROUTED_FUNCTIONS: [&str; 2] = ["migrate", "cleanup"];

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

/// (method, path, binary) of every HttpApi event in template.yaml. A line scan, because
/// CloudFormation's `!Ref` tags are not plain YAML.
fn template_routes() -> (BTreeSet<(String, String, String)>, BTreeSet<String>) {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let mut routes = BTreeSet::new();
    let mut binaries = BTreeSet::new();
    let (mut binary, mut method) = (None::<String>, None::<String>);
    for line in template.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("Binary: ") {
            binary = Some(name.to_owned());
            assert!(
                binaries.insert(name.to_owned()),
                "binary {name} built twice"
            );
        } else if let Some(m) = line.strip_prefix("Method: ") {
            method = Some(m.to_owned());
        } else if let Some(path) = line.strip_prefix("Path: ") {
            let route = (
                method.take().expect("Method before Path"),
                path.to_owned(),
                binary.clone().expect("Binary"),
            );
            assert!(routes.insert(route), "{path} listed twice");
        }
    }
    (routes, binaries)
}

#[test]
fn template_http_api_events_match_the_route_table() {
    let (routes, binaries) = template_routes();
    assert_eq!(routes, route_table());
    let mut expected: BTreeSet<String> = ROUTES.iter().map(|r| r.function.to_owned()).collect();
    expected.extend(UNROUTED_FUNCTIONS.map(str::to_owned));
    assert_eq!(
        binaries, expected,
        "one function per crate, the unrouted ones included"
    );
}

/// The crate names under `functions/`, each read from its own manifest.
fn function_crates() -> BTreeSet<String> {
    let functions_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../functions");
    std::fs::read_dir(functions_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .map(|dir| {
            let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
            let manifest: toml::Table = toml::from_str(&manifest).unwrap();
            let name = manifest["package"]["name"].as_str().unwrap().to_owned();
            let dir_name = dir.file_name().unwrap().to_string_lossy().into_owned();
            assert_eq!(
                name, dir_name,
                "functions/{dir_name} names its crate {name}"
            );
            name
        })
        .collect()
}

#[test]
fn every_function_crate_serves_a_route_and_every_route_has_a_crate() {
    let routed: BTreeSet<String> = ROUTES.iter().map(|r| r.function.to_owned()).collect();
    let mut crates = function_crates();
    for unrouted in UNROUTED_FUNCTIONS {
        assert!(crates.remove(unrouted), "functions/{unrouted} is missing");
    }
    assert_eq!(crates, routed);

    // The local server's dispatch is generated from one list of crates: it must hold
    // exactly the routed functions, each a dependency of the local server.
    let handlers: BTreeSet<String> = dev_server::function_names()
        .iter()
        .map(|f| f.to_string())
        .collect();
    assert_eq!(handlers, routed, "dev-server's handlers! list");
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let manifest: toml::Table = toml::from_str(&manifest).unwrap();
    let dependencies: BTreeSet<String> = manifest["dependencies"]
        .as_table()
        .unwrap()
        .iter()
        .filter(|(_, spec)| {
            spec.get("path")
                .and_then(|path| path.as_str())
                .is_some_and(|path| path.starts_with("../functions/"))
        })
        .map(|(name, _)| name.clone())
        .collect();
    assert_eq!(dependencies, routed, "dev-server's function dependencies");
}

/// Each function's block of template.yaml (from its resource line to the next resource),
/// by binary name.
fn template_function_blocks() -> BTreeMap<String, String> {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let mut blocks = BTreeMap::new();
    let mut current = String::new();
    let mut flush = |block: &mut String| {
        if let Some(binary) = block
            .lines()
            .find_map(|line| line.trim().strip_prefix("Binary: "))
        {
            blocks.insert(binary.to_owned(), block.clone());
        }
        block.clear();
    };
    for line in template.lines() {
        // A resource starts at two spaces of indentation.
        if line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':') {
            flush(&mut current);
        }
        current.push_str(line);
        current.push('\n');
    }
    flush(&mut current);
    blocks
}

/// Least privilege: the signing secret, and the permission to read it, go only to the
/// functions that verify or issue tokens; every function may read the database URL.
#[test]
fn each_function_gets_only_the_secrets_it_uses() {
    const WITHOUT_AUTH: [&str; 3] = ["health", "migrate", "cleanup"];
    let blocks = template_function_blocks();
    assert_eq!(blocks.len(), ROUTES.len() + UNROUTED_FUNCTIONS.len());
    for (binary, block) in &blocks {
        let uses_auth = !WITHOUT_AUTH.contains(&binary.as_str());
        for auth_only in [
            "BETTER_AUTH_SECRET:",
            "BETTER_AUTH_SECRET_ARN:",
            "ReadAuthSecretPolicy",
        ] {
            assert_eq!(
                block.contains(auth_only),
                uses_auth,
                "{binary}: {auth_only}"
            );
        }
        assert!(block.contains("ReadDatabaseUrlSecretPolicy"), "{binary}");
        let routed = ROUTES.iter().any(|route| route.function == binary);
        assert_eq!(
            block.contains("ALLOWED_ORIGINS:"),
            routed,
            "{binary}: ALLOWED_ORIGINS"
        );
    }
}
