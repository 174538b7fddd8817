//! Prometheus metrics for every service.
//!
//! [`Metrics::install`] installs the process-wide `metrics` recorder once; services record with
//! the `metrics` macros anywhere and serve [`metrics_route`] at `GET /metrics`.
//! [`request_metrics`] times every HTTP request by route pattern. What else to count is left to
//! the services; only the `*_duration_seconds` bucket layout is fixed here.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, Resource, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::fallback::method_not_allowed;

/// The Prometheus text exposition format served at `/metrics`.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// Bucket bounds for every `*_duration_seconds` histogram: 100 µs to 10 s, roughly 1-2.5-5.
const DURATION_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// How often histogram samples are folded into their buckets when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// A handle on the process-wide Prometheus recorder; clones are cheap and share it.
#[derive(Debug, Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
}

impl Metrics {
    /// Installs the global recorder on the first call and returns a handle to it; later calls
    /// return the same handle.
    ///
    /// If another recorder was installed first (outside this crate), the handle renders only
    /// what was recorded through it, which is nothing; a warning says so.
    pub fn install() -> Metrics {
        static INSTALLED: OnceLock<Metrics> = OnceLock::new();
        INSTALLED
            .get_or_init(|| {
                let recorder = prometheus_builder().build_recorder();
                let handle = recorder.handle();
                if let Err(error) = metrics::set_global_recorder(recorder) {
                    tracing::warn!(%error, "another metrics recorder is installed");
                }
                spawn_upkeep(handle.clone());
                Metrics { handle }
            })
            .clone()
    }

    /// Renders every metric in the Prometheus text format.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

fn prometheus_builder() -> PrometheusBuilder {
    // Fails only for an empty bucket list, which the constant is not.
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("duration_seconds".to_owned()),
            DURATION_BUCKETS,
        )
        .unwrap_or_else(|_| PrometheusBuilder::new())
}

/// Without an exporter task of its own, the recorder folds histogram samples only when
/// rendered; this keeps memory bounded when `/metrics` is not scraped.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                handle.run_upkeep();
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot start the metrics upkeep thread");
    }
}

/// The methods that keep their own `method` label (RFC 9110's and PATCH); any other is `other`.
const KNOWN_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// The `method` label of `method`: itself when standard, else `other`. A client chooses the
/// method freely, and every distinct label value would be a new series kept forever.
pub fn method_label(method: &str) -> &'static str {
    KNOWN_METHODS
        .iter()
        .find(|known| **known == method)
        .copied()
        .unwrap_or("other")
}

/// The `status` label of `status`: the code when it is a valid HTTP status, else `other`.
pub fn status_label(status: u16) -> String {
    if (100..=599).contains(&status) {
        status.to_string()
    } else {
        "other".to_owned()
    }
}

/// Records one served HTTP request in `http_server_request_duration_seconds`.
///
/// `route` must be the route pattern (`/v1/events/{id}`), never the raw path, to keep the
/// number of series bounded; the method and status are bounded here ([`method_label`],
/// [`status_label`]).
pub fn record_http_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    metrics::histogram!(
        "http_server_request_duration_seconds",
        "method" => method_label(method),
        "route" => route.to_owned(),
        "status" => status_label(status),
    )
    .record(elapsed.as_secs_f64());
}

/// Returns the `GET /metrics` resource serving `metrics` in the Prometheus text format.
///
/// Other methods get the problem+json 405 every route gives (a resource answers them itself,
/// so the app's fallback never sees them).
pub fn metrics_route(metrics: Metrics) -> Resource {
    web::resource("/metrics")
        .route(web::get().to(move || {
            let body = metrics.render();
            async move { HttpResponse::Ok().content_type(CONTENT_TYPE).body(body) }
        }))
        .default_service(web::to(|request: HttpRequest| async move {
            method_not_allowed(request.method(), "GET")
        }))
}

/// Middleware timing every request:
/// `App::new().wrap(actix_web::middleware::from_fn(eventflow_runtime::metrics::request_metrics))`.
///
/// The route label is the matched pattern (a template from the code, never the raw path), or
/// `unmatched` for requests no route matched; the method and status are bounded as in
/// [`record_http_request`]. So no request, however made up, adds more than a handful of series.
pub async fn request_metrics(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().clone();
    let response = next.call(request).await;
    let (route, status) = route_and_status(&response);
    record_http_request(
        method.as_str(),
        route.as_deref().unwrap_or("unmatched"),
        status,
        started.elapsed(),
    );
    response
}

/// The route pattern a request matched (`None` when no route did) and the
/// status answered. Routing happens inside the service a middleware wraps, so
/// both are known only once it has answered.
pub(crate) fn route_and_status<B>(
    response: &Result<ServiceResponse<B>, actix_web::Error>,
) -> (Option<String>, u16) {
    match response {
        Ok(response) => (
            response.request().match_pattern(),
            response.status().as_u16(),
        ),
        Err(error) => (None, error.as_response_error().status_code().as_u16()),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::test::{TestRequest, call_service, init_service, read_body};
    use actix_web::{App, http::StatusCode};

    use super::*;

    #[test]
    fn recorded_requests_land_in_duration_buckets() {
        let recorder = prometheus_builder().build_recorder();

        metrics::with_local_recorder(&recorder, || {
            record_http_request("POST", "/v1/events", 202, Duration::from_millis(3));
        });

        let rendered = recorder.handle().render();
        assert!(
            rendered.contains(
                r#"http_server_request_duration_seconds_bucket{method="POST",route="/v1/events",status="202",le="0.005"} 1"#
            ),
            "{rendered}"
        );
        assert!(
            rendered.contains(
                r#"http_server_request_duration_seconds_bucket{method="POST",route="/v1/events",status="202",le="0.0025"} 0"#
            ),
            "{rendered}"
        );
    }

    #[actix_web::test]
    async fn the_middleware_labels_requests_by_route_pattern() {
        let metrics = Metrics::install();
        let app = init_service(
            App::new()
                .wrap(from_fn(request_metrics))
                .route(
                    "/middleware-test/{id}",
                    web::get().to(|| async { HttpResponse::NoContent().finish() }),
                )
                .service(metrics_route(metrics.clone())),
        )
        .await;

        let response = call_service(
            &app,
            TestRequest::get().uri("/middleware-test/42").to_request(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let response = call_service(&app, TestRequest::get().uri("/nowhere").to_request()).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);

        let response = call_service(&app, TestRequest::get().uri("/metrics").to_request()).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers().get("content-type").unwrap(),
            CONTENT_TYPE
        );
        let body = String::from_utf8(read_body(response).await.to_vec()).unwrap();
        assert!(
            body.contains(r#"route="/middleware-test/{id}",status="204""#),
            "{body}"
        );
        assert!(body.contains(r#"route="unmatched",status="404""#), "{body}");
    }

    #[test]
    fn labels_stay_within_known_sets() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("PATCH"), "PATCH");
        assert_eq!(method_label("get"), "other");
        assert_eq!(method_label("X-MADE-UP"), "other");
        assert_eq!(status_label(404), "404");
        assert_eq!(status_label(99), "other");
        assert_eq!(status_label(600), "other");
    }

    #[actix_web::test]
    async fn made_up_methods_and_paths_do_not_grow_the_metrics() {
        let metrics = Metrics::install();
        let app = init_service(
            App::new()
                .wrap(from_fn(request_metrics))
                .route(
                    "/bounded-test/{id}",
                    web::get().to(|| async { HttpResponse::NoContent().finish() }),
                )
                .service(metrics_route(metrics.clone()))
                .default_service(web::to(|| async { HttpResponse::NotFound().finish() })),
        )
        .await;
        let series = |body: &str| {
            body.lines()
                .filter(|line| line.starts_with("http_server_request_duration_seconds_count"))
                .count()
        };
        // One of each kind first, so the series they need exist before measuring.
        for (method, path) in [("X-WARM-UP", "/warm/up"), ("GET", "/bounded-test/0")] {
            let method = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
            call_service(
                &app,
                TestRequest::default().method(method).uri(path).to_request(),
            )
            .await;
        }
        let before = metrics.render();

        for n in 0..300 {
            let method = actix_web::http::Method::from_bytes(format!("M{n}X").as_bytes()).unwrap();
            let made_up = TestRequest::default()
                .method(method)
                .uri(&format!("/made-up/{n}/path?q={n}"))
                .to_request();
            call_service(&app, made_up).await;
            let routed = TestRequest::get()
                .uri(&format!("/bounded-test/{n}"))
                .to_request();
            call_service(&app, routed).await;
        }

        let after = metrics.render();
        assert_eq!(series(&after), series(&before), "{after}");
        assert!(
            after.len() < before.len() + 200,
            "grew from {} to {} bytes",
            before.len(),
            after.len()
        );
        assert!(
            after.contains(r#"method="other",route="unmatched",status="404""#),
            "{after}"
        );
        assert!(
            !after.contains("M299X") && !after.contains("/made-up/"),
            "{after}"
        );
    }
}
