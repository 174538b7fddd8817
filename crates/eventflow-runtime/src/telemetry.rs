//! Logs and traces for every service.
//!
//! [`Telemetry::init`] installs one global `tracing` subscriber: a log layer (JSON lines when
//! stdout is not a terminal, human-readable when it is) filtered by the operator's filter, and
//! an OpenTelemetry layer backed by an `SdkTracerProvider`, so every span carries W3C trace and
//! span ids even when nothing exports them. JSON lines logged inside a span carry that span's
//! `trace_id` and `span_id`. Spans are exported over OTLP/gRPC only when an endpoint is given.
//! The helpers at the bottom move a trace across HTTP, gRPC and the event store
//! (`traceparent`). Which spans exist, and what they record, is left to the services.

use std::collections::HashMap;
use std::fmt;
use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing::{Event, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::fmt::format::{Format, Json, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, filter::LevelFilter};

/// How long the OTLP exporter waits for the collector before giving up on a batch.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(3);

/// Spans below this level are not traced, whatever the log filter says: the trace of a
/// request (and the `traceparent` stored with its events) must not depend on log verbosity.
const TRACE_LEVEL: LevelFilter = LevelFilter::INFO;

/// A log layer for the subscriber built by [`subscriber`].
type LogLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Telemetry that could not be started.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The log filter does not follow `EnvFilter` syntax (e.g. `info,ingest_gateway=debug`).
    #[error("invalid log filter {filter:?}")]
    InvalidFilter {
        /// The filter as given.
        filter: String,
        /// What the parser refused.
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// The OTLP exporter could not be built (e.g. a malformed endpoint).
    #[error("cannot build the otlp span exporter")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    /// A global subscriber was already installed in this process.
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled(#[from] tracing_subscriber::util::TryInitError),
}

/// The process's logging and tracing, kept by `main` so it can flush spans on exit.
#[must_use = "call `shutdown().await` before exiting, or the last spans are lost"]
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Installs the global subscriber, tracer provider and W3C propagator.
    ///
    /// `log_filter` uses `EnvFilter` syntax. Spans are sent to `otlp_endpoint` over gRPC when
    /// it is given. Must be called inside a multi-thread Tokio runtime: the OTLP exporter is
    /// built on it.
    pub fn init(
        service_name: &str,
        log_filter: &str,
        otlp_endpoint: Option<&str>,
    ) -> Result<Telemetry, TelemetryError> {
        // Parsed first, so a bad filter installs nothing.
        let filter = parse_filter(log_filter)?;
        let mut provider = SdkTracerProvider::builder().with_resource(
            Resource::builder()
                .with_service_name(service_name.to_owned())
                .build(),
        );
        if let Some(endpoint) = otlp_endpoint {
            use opentelemetry_otlp::WithExportConfig as _;
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .with_timeout(EXPORT_TIMEOUT)
                .build()?;
            provider = provider.with_batch_exporter(exporter);
        }
        let provider = provider.build();
        let log_layer = if std::io::stdout().is_terminal() {
            human_log_layer(filter, std::io::stdout)
        } else {
            json_log_layer(filter, std::io::stdout)
        };
        subscriber(Some(log_layer), provider.tracer(service_name.to_owned())).try_init()?;
        install_globals(&provider);
        Ok(Telemetry { provider })
    }

    /// Flushes pending spans and shuts the tracer provider down.
    ///
    /// The flush blocks until the batch processor (on its own thread) answers, which stalls a
    /// current-thread runtime, so it runs on the blocking pool.
    pub async fn shutdown(self) {
        let provider = self.provider;
        match tokio::task::spawn_blocking(move || provider.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "tracer provider shutdown failed"),
            Err(error) => tracing::warn!(%error, "tracer provider shutdown panicked"),
        }
    }
}

/// Installs telemetry for tests, once per process; later calls do nothing.
///
/// Silent unless `TEST_LOG` is set: then pretty logs go to the test writer, filtered by the
/// value of `TEST_LOG` (`1`, `true` or an invalid filter mean `debug`). The tracer provider
/// and propagator are installed either way, so spans in tests have trace ids.
pub fn init_for_tests() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let log_layer = std::env::var("TEST_LOG").ok().map(|value| {
            let filter = match value.as_str() {
                "" | "1" | "true" => None,
                filter => EnvFilter::try_new(filter).ok(),
            }
            .unwrap_or_else(|| EnvFilter::new("debug"));
            tracing_subscriber::fmt::layer()
                .pretty()
                .with_test_writer()
                .with_filter(filter)
                .boxed()
        });
        let provider = SdkTracerProvider::builder().build();
        // Another subscriber may already be global (a test that installed its own); the ids
        // then come from that one, and there is nothing better to do than keep it.
        let _ = subscriber(log_layer, provider.tracer("test")).try_init();
        install_globals(&provider);
    });
}

fn parse_filter(log_filter: &str) -> Result<EnvFilter, TelemetryError> {
    EnvFilter::try_new(log_filter).map_err(|source| TelemetryError::InvalidFilter {
        filter: log_filter.to_owned(),
        source,
    })
}

fn install_globals(provider: &SdkTracerProvider) {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    // For OpenTelemetry instrumentation that does not go through `tracing`.
    opentelemetry::global::set_tracer_provider(provider.clone());
}

/// Builds the subscriber `init` installs; tests run it locally with their own writer.
fn subscriber(
    log_layer: Option<LogLayer>,
    tracer: SdkTracer,
) -> impl Subscriber + Send + Sync + for<'span> LookupSpan<'span> {
    Registry::default().with(log_layer).with(
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(TRACE_LEVEL),
    )
}

/// The subscriber [`init`](Telemetry::init) installs, without logs: tests add their own layers.
#[cfg(test)]
pub(crate) fn test_subscriber() -> impl Subscriber + Send + Sync + for<'span> LookupSpan<'span> {
    subscriber(None, SdkTracerProvider::builder().build().tracer("test"))
}

fn json_log_layer<W>(filter: EnvFilter, writer: W) -> LogLayer
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .map_event_format(JsonWithTraceIds)
        .with_writer(writer)
        .with_filter(filter)
        .boxed()
}

fn human_log_layer<W>(filter: EnvFilter, writer: W) -> LogLayer
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_filter(filter)
        .boxed()
}

/// The JSON event format of `tracing-subscriber`, plus `trace_id` and `span_id`.
///
/// The OpenTelemetry layer attaches the current span's context when the span is entered, so
/// the ids are read from `opentelemetry::Context::current()` and spliced in before the closing
/// brace of the line the JSON format wrote.
struct JsonWithTraceIds<T>(Format<Json, T>);

impl<S, N, T> FormatEvent<S, N> for JsonWithTraceIds<T>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    N: for<'writer> FormatFields<'writer> + 'static,
    Format<Json, T>: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        let context = opentelemetry::Context::current();
        let span = context.span();
        let span_context = span.span_context();
        match line.strip_suffix("}\n") {
            Some(object) if span_context.is_valid() => writeln!(
                writer,
                r#"{object},"trace_id":"{}","span_id":"{}"}}"#,
                span_context.trace_id(),
                span_context.span_id()
            ),
            _ => writer.write_str(&line),
        }
    }
}

/// Reads a remote parent (`traceparent`, `tracestate`) from HTTP request headers.
///
/// Returns an empty context when the headers carry none or a malformed one; pass the result to
/// `tracing::Span::set_parent`.
pub fn extract_remote_context(
    headers: &actix_web::http::header::HeaderMap,
) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&HttpHeaders(headers))
}

/// Reads a remote parent (`traceparent`, `tracestate`) from gRPC request metadata.
pub fn extract_remote_context_from_grpc(
    metadata: &tonic::metadata::MetadataMap,
) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&GrpcMetadata(metadata))
}

/// Returns the `traceparent` value (`00-<trace id>-<span id>-<flags>`) of the current span.
///
/// Stored with an event, it lets a later webhook delivery continue the producer's trace.
/// Returns `None` outside a traced span.
pub fn current_traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent")
}

// The propagator is used directly rather than through the global one so that extraction does
// not depend on whether (and in which order) a process called `init`.

struct HttpHeaders<'a>(&'a actix_web::http::header::HeaderMap);

impl Extractor for HttpHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

struct GrpcMetadata<'a>(&'a tonic::metadata::MetadataMap);

impl Extractor for GrpcMetadata<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .map(|key| match key {
                tonic::metadata::KeyRef::Ascii(key) => key.as_str(),
                tonic::metadata::KeyRef::Binary(key) => key.as_str(),
            })
            .collect()
    }
}

/// Collects what a log layer writes, for tests that check what was logged: pass it to
/// `tracing_subscriber::fmt().with_writer(..)` (or a layer's) and read it back.
#[derive(Clone, Default)]
pub struct LogCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogCapture {
    /// Returns everything written so far.
    pub fn text(&self) -> String {
        let bytes = self
            .0
            .lock()
            .map(|bytes| bytes.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone());
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Returns each line written so far as JSON (for a JSON layer); a line that is not JSON
    /// is a string.
    pub fn lines(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|_| serde_json::Value::String(line.to_owned()))
            })
            .collect()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use tracing::info_span;

    use super::*;

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    fn is_hex(value: &serde_json::Value, len: usize) -> bool {
        value.as_str().is_some_and(|id| {
            id.len() == len
                && id
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        })
    }

    #[test]
    fn json_lines_inside_a_span_carry_its_trace_and_span_ids() {
        let captured = LogCapture::default();
        let provider = SdkTracerProvider::builder().build();
        let log_layer = json_log_layer(EnvFilter::new("info"), captured.clone());
        let subscriber = subscriber(Some(log_layer), provider.tracer("test"));

        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("outside");
            let span = info_span!("request", event_id = "evt_1");
            let _entered = span.enter();
            tracing::info!(attempt = 1, "inside");
        });

        let lines = captured.lines();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0]["fields"]["message"], "outside");
        assert!(lines[0].get("trace_id").is_none());
        assert_eq!(lines[1]["fields"]["message"], "inside");
        assert_eq!(lines[1]["span"]["event_id"], "evt_1");
        assert!(is_hex(&lines[1]["trace_id"], 32), "{}", lines[1]);
        assert!(is_hex(&lines[1]["span_id"], 16), "{}", lines[1]);
    }

    #[test]
    fn json_lines_in_a_continued_trace_carry_the_remote_trace_id() {
        let captured = LogCapture::default();
        let provider = SdkTracerProvider::builder().build();
        let log_layer = json_log_layer(EnvFilter::new("info"), captured.clone());
        let subscriber = subscriber(Some(log_layer), provider.tracer("test"));
        let mut headers = actix_web::http::header::HeaderMap::new();
        headers.insert(
            actix_web::http::header::HeaderName::from_static("traceparent"),
            actix_web::http::header::HeaderValue::from_static(TRACEPARENT),
        );

        tracing::subscriber::with_default(subscriber, || {
            let span = info_span!("request");
            span.set_parent(extract_remote_context(&headers)).unwrap();
            span.in_scope(|| tracing::info!("inside"));
        });

        assert_eq!(captured.lines()[0]["trace_id"], TRACE_ID);
    }

    #[test]
    fn current_traceparent_continues_an_extracted_http_trace() {
        init_for_tests();
        let mut headers = actix_web::http::header::HeaderMap::new();
        headers.insert(
            actix_web::http::header::HeaderName::from_static("traceparent"),
            actix_web::http::header::HeaderValue::from_static(TRACEPARENT),
        );

        let span = info_span!("ingest");
        span.set_parent(extract_remote_context(&headers)).unwrap();
        let traceparent = span.in_scope(current_traceparent).unwrap();

        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "{traceparent}");
        assert_eq!(parts[0], "00");
        assert_eq!(parts[1], TRACE_ID);
        assert_ne!(
            parts[2], "00f067aa0ba902b7",
            "the local span gets its own id"
        );
        assert_eq!(parts[3], "01");
    }

    #[test]
    fn current_traceparent_continues_an_extracted_grpc_trace() {
        init_for_tests();
        let mut metadata = tonic::metadata::MetadataMap::new();
        metadata.insert("traceparent", TRACEPARENT.parse().unwrap());

        let span = info_span!("ingest");
        span.set_parent(extract_remote_context_from_grpc(&metadata))
            .unwrap();
        let traceparent = span.in_scope(current_traceparent).unwrap();

        assert!(
            traceparent.starts_with(&format!("00-{TRACE_ID}-")),
            "{traceparent}"
        );
    }

    #[test]
    fn a_span_without_a_remote_parent_starts_a_new_trace() {
        init_for_tests();

        let traceparent = info_span!("job").in_scope(current_traceparent).unwrap();

        assert!(!traceparent.contains(TRACE_ID));
        assert_eq!(traceparent.len(), 55, "{traceparent}");
    }

    #[test]
    fn there_is_no_traceparent_outside_a_span() {
        init_for_tests();

        assert_eq!(current_traceparent(), None);
    }

    #[test]
    fn a_malformed_log_filter_is_refused() {
        let error = Telemetry::init("test", "info,ingest_gateway=loud", None).unwrap_err();

        assert!(
            matches!(error, TelemetryError::InvalidFilter { .. }),
            "{error}"
        );
    }
}
