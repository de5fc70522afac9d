//! THE route table: every (method, path template) and the function that serves it. The
//! local server mounts it, and `cargo xtask wiring` writes the `cargo lambda watch` router
//! and template.yaml's HTTP API events from it, so none of them can drift apart.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    /// `{name}` marks a path parameter, as in API Gateway and matchit.
    pub path: &'static str,
    /// The function crate and binary name.
    pub function: &'static str,
}

const fn route(method: &'static str, path: &'static str, function: &'static str) -> Route {
    Route {
        method,
        path,
        function,
    }
}

pub const ROUTES: &[Route] = &[
    route("POST", "/api/auth/signup", "signup"),
    route("POST", "/api/auth/signin", "signin"),
    route("POST", "/api/auth/signout", "signout"),
    route("GET", "/api/auth/session", "session"),
    route("GET", "/api/health", "health"),
    route("GET", "/api/{user_id}/tasks", "tasks-list"),
    route("POST", "/api/{user_id}/tasks", "task-create"),
    route("GET", "/api/{user_id}/tasks/{task_id}", "task-get"),
    route("PUT", "/api/{user_id}/tasks/{task_id}", "task-replace"),
    route("PATCH", "/api/{user_id}/tasks/{task_id}", "task-update"),
    route("DELETE", "/api/{user_id}/tasks/{task_id}", "task-delete"),
    route(
        "PATCH",
        "/api/{user_id}/tasks/{task_id}/complete",
        "task-complete",
    ),
    route("POST", "/api/auth/change-password", "change-password"),
    route("PATCH", "/api/auth/user", "user-update"),
    route("DELETE", "/api/auth/user", "user-delete"),
    route("GET", "/api/auth/sessions", "sessions-list"),
    route(
        "DELETE",
        "/api/auth/sessions/{session_id}",
        "session-revoke",
    ),
    route("POST", "/api/auth/forgot-password", "forgot-password"),
    route("POST", "/api/auth/reset-password", "reset-password"),
    route("POST", "/api/auth/verify-email", "verify-email"),
    route(
        "POST",
        "/api/auth/send-verification-email",
        "send-verification-email",
    ),
    route("POST", "/api/auth/change-email", "change-email"),
];

pub fn by_function(function: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|route| route.function == function)
}

/// Matches `path` against `template`, returning the parameters by name. The template is
/// matched against the path's last segments, so a stage prefix (`/prod/api/…`) still matches.
pub fn match_path(template: &str, path: &str) -> Option<Vec<(String, String)>> {
    let template_segments: Vec<&str> = template.trim_matches('/').split('/').collect();
    let path_segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let skip = path_segments.len().checked_sub(template_segments.len())?;
    let mut params = Vec::new();
    for (pattern, segment) in template_segments
        .iter()
        .zip(path_segments.iter().skip(skip))
    {
        match pattern.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(_) if segment.is_empty() => return None,
            Some(name) => params.push((name.to_owned(), (*segment).to_owned())),
            None if pattern == segment => {}
            None => return None,
        }
    }
    Some(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_route_is_unique_and_every_function_serves_one_route() {
        let pairs: HashSet<_> = ROUTES.iter().map(|r| (r.method, r.path)).collect();
        assert_eq!(pairs.len(), ROUTES.len());
        let functions: HashSet<_> = ROUTES.iter().map(|r| r.function).collect();
        assert_eq!(functions.len(), ROUTES.len());
    }

    #[test]
    fn static_paths_match_exactly() {
        assert_eq!(match_path("/api/health", "/api/health"), Some(vec![]));
        assert_eq!(match_path("/api/health", "/prod/api/health/"), Some(vec![]));
        assert_eq!(match_path("/api/health", "/api/healthz"), None);
        assert_eq!(match_path("/api/auth/session", "/session"), None);
    }

    #[test]
    fn parameters_are_read_from_the_raw_path() {
        let params = match_path("/api/{user_id}/tasks/{task_id}", "/api/u-1/tasks/42").unwrap();
        assert_eq!(
            params,
            [
                ("user_id".into(), "u-1".into()),
                ("task_id".into(), "42".into())
            ]
        );
        assert_eq!(
            match_path("/api/{user_id}/tasks/{task_id}", "/api/u-1/tasks/"),
            None
        );
        assert_eq!(
            match_path("/api/{user_id}/tasks/{task_id}/complete", "/api/u/tasks/1"),
            None
        );
    }
}
