//! One span per HTTP request, the same in every service.
//!
//! [`request_span`] opens an `http request` span around everything the app does for a request,
//! as the child of the caller's trace when the request carries a W3C `traceparent`, and
//! records on it the method, the route template (`/v1/endpoints/{id}`, never the raw path: the
//! span name must stay one per route), the status and the latency. Handlers record who called
//! into its empty `project_id` and `api_key_id` fields once they know
//! (`tracing::Span::current().record(..)`); everything they log or trace nests under it.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use tracing::Instrument;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::metrics::{method_label, route_and_status};
use crate::telemetry::extract_remote_context;

/// Middleware giving every request its span:
/// `App::new().wrap(actix_web::middleware::from_fn(request_span))`, outermost, so that the
/// span covers the other middleware too. [`crate::serve::Service`] wraps every service's app
/// in it.
pub async fn request_span(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    // A client chooses the method freely; the span name takes only known ones.
    let method = method_label(request.method().as_str());
    let span = tracing::info_span!(
        "http request",
        otel.name = method,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = method,
        http.route = Empty,
        http.response.status_code = Empty,
        latency_ms = Empty,
        project_id = Empty,
        api_key_id = Empty,
    );
    // Without a (valid) traceparent the span starts a trace of its own.
    let _ = span.set_parent(extract_remote_context(request.headers()));
    let response = span
        .in_scope(|| next.call(request))
        .instrument(span.clone())
        .await;
    let (route, status) = route_and_status(&response);
    if let Some(route) = route {
        span.record("otel.name", format!("{method} {route}"));
        span.record("http.route", route);
    }
    span.record("http.response.status_code", status);
    span.record("latency_ms", started.elapsed().as_secs_f64() * 1000.0);
    if status >= 500 {
        span.record("otel.status_code", "ERROR");
    }
    response
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use actix_web::middleware::from_fn;
    use actix_web::test::{TestRequest, call_service, init_service, read_body};
    use actix_web::{App, HttpResponse, web};
    use tracing::Subscriber;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::registry::LookupSpan;

    use super::*;
    use crate::telemetry::current_traceparent;

    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    /// The fields of every span named `http request`, by span id, as recorded so far.
    #[derive(Clone, Default)]
    struct RequestSpans(Arc<Mutex<HashMap<u64, HashMap<String, String>>>>);

    impl RequestSpans {
        fn all(&self) -> Vec<HashMap<String, String>> {
            self.0.lock().unwrap().values().cloned().collect()
        }
    }

    struct Fields<'a>(&'a mut HashMap<String, String>);

    impl Visit for Fields<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.insert(field.name().to_owned(), format!("{value:?}"));
        }

        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().to_owned(), value.to_owned());
        }
    }

    impl<S: Subscriber + for<'span> LookupSpan<'span>> Layer<S> for RequestSpans {
        fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
            if attributes.metadata().name() == "http request" {
                let mut spans = self.0.lock().unwrap();
                attributes.record(&mut Fields(spans.entry(id.into_u64()).or_default()));
            }
        }

        fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
            if let Some(fields) = self.0.lock().unwrap().get_mut(&id.into_u64()) {
                values.record(&mut Fields(fields));
            }
        }
    }

    /// Answers with the `traceparent` of the span the handler runs in.
    async fn traced() -> HttpResponse {
        HttpResponse::Ok().body(current_traceparent().unwrap_or_default())
    }

    #[actix_web::test]
    async fn every_request_gets_a_span_with_its_route_template_status_and_callers_trace() {
        let spans = RequestSpans::default();
        let _installed = tracing::subscriber::set_default(
            crate::telemetry::test_subscriber().with(spans.clone()),
        );
        let app = init_service(
            App::new()
                .wrap(from_fn(request_span))
                .route("/things/{id}", web::get().to(traced))
                .route(
                    "/failing",
                    web::get().to(|| async { HttpResponse::ServiceUnavailable().finish() }),
                ),
        )
        .await;

        let response = call_service(
            &app,
            TestRequest::get()
                .uri("/things/42")
                .insert_header(("traceparent", format!("00-{TRACE_ID}-00f067aa0ba902b7-01")))
                .to_request(),
        )
        .await;
        let traceparent = String::from_utf8(read_body(response).await.to_vec()).unwrap();
        call_service(&app, TestRequest::get().uri("/failing").to_request()).await;
        call_service(&app, TestRequest::post().uri("/nowhere/7").to_request()).await;

        assert!(
            traceparent.starts_with(&format!("00-{TRACE_ID}-")),
            "the handler runs in the caller's trace: {traceparent:?}"
        );
        assert!(!traceparent.contains("00f067aa0ba902b7"), "{traceparent}");
        let mut spans = spans.all();
        spans.sort_by_key(|span| span.get("http.response.status_code").cloned());
        let field = |span: &HashMap<String, String>, name: &str| span.get(name).cloned();
        assert_eq!(spans.len(), 3, "{spans:?}");
        let (ok, not_found, failing) = (&spans[0], &spans[1], &spans[2]);
        assert_eq!(field(ok, "http.route").as_deref(), Some("/things/{id}"));
        assert_eq!(field(ok, "otel.name").as_deref(), Some("GET /things/{id}"));
        assert_eq!(field(ok, "http.request.method").as_deref(), Some("GET"));
        assert_eq!(
            field(ok, "http.response.status_code").as_deref(),
            Some("200")
        );
        assert!(field(ok, "latency_ms").is_some(), "{ok:?}");
        assert_eq!(field(ok, "otel.status_code"), None);
        assert_eq!(
            field(not_found, "http.route"),
            None,
            "the raw path is never the route"
        );
        assert_eq!(field(not_found, "otel.name").as_deref(), Some("POST"));
        assert_eq!(
            field(not_found, "http.response.status_code").as_deref(),
            Some("404")
        );
        assert_eq!(
            field(failing, "http.response.status_code").as_deref(),
            Some("503")
        );
        assert_eq!(field(failing, "otel.status_code").as_deref(), Some("ERROR"));
    }
}
