//! The answer to a request no route matched, as a problem+json: 405 with
//! `Allow` when its path is served for other methods, or when no route of the
//! service serves its method at all (`TRACE`, made-up methods); 404 otherwise.
//!
//! actix answers such requests from the default service with an empty 404 (a
//! method guard that fails just skips the route), so each service lists its
//! routes once in a [`RouteTable`] and installs [`RouteTable::fallback`] as
//! its default service.

use std::collections::BTreeSet;
use std::sync::Arc;

use actix_web::dev::ResourceDef;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, Route, web};

use crate::api_error::{ErrorKind, Problem, not_found_response};

/// Every route of a service: a path pattern (actix syntax, `/v1/events/{id}`)
/// and the methods it serves.
#[derive(Debug, Default, Clone)]
pub struct RouteTable {
    routes: Vec<(ResourceDef, BTreeSet<String>)>,
    served: BTreeSet<String>,
}

impl RouteTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `methods` (upper case, e.g. `GET`) at `pattern`.
    #[must_use]
    pub fn route(mut self, pattern: &str, methods: &[&str]) -> Self {
        let methods: BTreeSet<String> = methods.iter().map(|m| m.to_ascii_uppercase()).collect();
        self.served.extend(methods.iter().cloned());
        match self
            .routes
            .iter_mut()
            .find(|(def, _)| def.pattern() == Some(pattern))
        {
            Some((_, known)) => known.extend(methods),
            None => self.routes.push((ResourceDef::new(pattern), methods)),
        }
        self
    }

    /// The methods served at `path`, joined for an `Allow` header; None when
    /// no route has this path.
    pub fn allowed(&self, path: &str) -> Option<String> {
        let mut allowed = BTreeSet::new();
        let mut found = false;
        for (def, methods) in &self.routes {
            if def.is_match(path) {
                found = true;
                allowed.extend(methods.iter().map(String::as_str));
            }
        }
        found.then(|| allowed.into_iter().collect::<Vec<_>>().join(", "))
    }

    /// The answer to `method` at `path` when no route matched it.
    pub fn answer(&self, method: &Method, path: &str) -> HttpResponse {
        let allowed = self.allowed(path);
        let served = self.served.contains(method.as_str());
        match allowed {
            Some(allow) => method_not_allowed(method, &allow),
            None if !served => method_not_allowed(method, ""),
            None => not_found_response(),
        }
    }

    /// The default service answering with [`RouteTable::answer`]:
    /// `App::new().default_service(table.fallback())`.
    pub fn fallback(self: &Arc<Self>) -> Route {
        let table = self.clone();
        web::to(move |request: HttpRequest| {
            let response = table.answer(request.method(), request.path());
            async move { response }
        })
    }
}

/// The problem+json 405 for `method`, with `Allow: allow`.
pub fn method_not_allowed(method: &Method, allow: &str) -> HttpResponse {
    let detail = if allow.is_empty() {
        format!("{method} is not served here")
    } else {
        format!("{method} is not allowed here; allowed: {allow}")
    };
    // The method is a client-chosen token: it is echoed only as far as a
    // header allows, and the detail is JSON-escaped by serde.
    Problem::new(ErrorKind::MethodNotAllowed, "method-not-allowed", detail)
        .to_response_with(&[("allow", allow.to_owned())])
}

#[cfg(test)]
mod tests {
    use actix_web::test::{TestRequest, call_service, init_service, read_body};
    use actix_web::{App, http::StatusCode};

    use super::*;

    fn table() -> Arc<RouteTable> {
        Arc::new(
            RouteTable::new()
                .route("/v1/things", &["GET", "POST"])
                .route("/v1/things/{id}", &["GET"])
                .route("/v1/things/{id}", &["DELETE"]),
        )
    }

    async fn call(method: &str, path: &str) -> (StatusCode, Option<String>, String) {
        let table = table();
        let app = init_service(
            App::new()
                .route(
                    "/v1/things",
                    web::get().to(|| async { HttpResponse::Ok().finish() }),
                )
                .default_service(table.fallback()),
        )
        .await;
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let request = TestRequest::default().method(method).uri(path).to_request();
        let response = call_service(&app, request).await;
        let status = response.status();
        let allow = response
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_owned());
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = String::from_utf8(read_body(response).await.to_vec()).unwrap();
        assert!(body.contains(&status.as_u16().to_string()), "{body}");
        (status, allow, content_type)
    }

    #[actix_web::test]
    async fn a_known_path_with_another_method_is_405_listing_the_allowed_ones() {
        let (status, allow, content_type) = call("PUT", "/v1/things/42").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(allow.as_deref(), Some("DELETE, GET"));
        assert_eq!(content_type, "application/problem+json");
        let (status, allow, _) = call("TRACE", "/v1/things").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(allow.as_deref(), Some("GET, POST"));
    }

    #[actix_web::test]
    async fn an_unserved_method_anywhere_is_405_and_an_unknown_path_404() {
        let (status, allow, _) = call("TRACE", "/nowhere").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(allow.as_deref(), Some(""));
        let (status, _, _) = call("MADEUP", "/nowhere").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        let (status, allow, content_type) = call("GET", "/nowhere").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(allow, None);
        assert_eq!(content_type, "application/problem+json");
    }
}
