//! `/openapi.json` (generated from the handlers and their types, so it
//! cannot drift) and `/docs`, an interactive page (Swagger UI, served from
//! this binary: no CDN, works offline).

use actix_web::{HttpResponse, get, web};
use eventflow_domain::{ApiKeyId, DeliveryId, EndpointId, EventId, ProjectId};
use eventflow_runtime::api_error::PROBLEM_CONTENT_TYPE;
use serde_json::{Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document's fixed parts; paths and schemas are collected from the routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "EventFlow API",
        version = "1",
        description = "Manage projects, API keys and endpoints; search events, deliveries and attempts; \
                       replay and recover; statistics. Authenticate with `Authorization: Bearer <key>` \
                       (an API key with the `read` or `admin` scope, or the operator's admin token for \
                       /v1/projects and /v1/api-keys). Errors are RFC 9457 application/problem+json."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Completes the collected document with what every route shares, so that
/// it is stated once here instead of in each of the handlers' annotations:
/// the problem+json answers (401 and 403 on every route, 415 and 413 where a
/// body is taken, 422 where a query or a body is parsed, 400 where an id is taken in
/// the path or a body that may not be JSON at all, 503 on every route, since
/// each reads PostgreSQL), and the constraints the API enforces on its
/// parameters (id formats, `limit` bounds, the cursor's form, time formats).
/// The answers only some routes share are the types of `super::responses`.
pub fn complete(document: &mut Value, max_page_limit: u32) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(operations) = item.as_object_mut() else {
            continue;
        };
        for operation in operations.values_mut() {
            // Each route is listed under its collection (`/v1/endpoints/{id}`: "endpoints").
            operation["tags"] = json!([collection(path)]);
            declare_path_id(path, operation);
            constrain_parameters(path, operation, max_page_limit);
            refuse_null_bodies(operation);
            add_problem_answers(operation);
        }
    }
    if let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        constrain_bodies(schemas);
        schemas.insert("Problem".to_owned(), problem_schema());
    }
}

/// `*`, an event type, or an event type followed by `.*` (what
/// `EventTypeFilter::parse` accepts).
const EVENT_TYPE_FILTER_PATTERN: &str =
    "^([*]|[A-Za-z0-9][A-Za-z0-9._:-]{0,127}|[A-Za-z0-9][A-Za-z0-9._:-]{0,127}[.][*])$";

/// The limits the handlers enforce on body fields, by schema and property.
/// Kept here, next to the other shared constraints, rather than as
/// attributes: utoipa cannot state an array's item rules on a `Vec<String>`.
/// A unit test checks that each entry names an existing property.
fn body_constraints() -> Vec<(&'static str, &'static str, Value)> {
    // No control characters (Rust's `char::is_control`), and not only spaces.
    let project_name = json!({
        "minLength": 1,
        "maxLength": 200,
        "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
    });
    let positive = json!({"minimum": 1, "maximum": i32::MAX});
    let retention = json!({"minimum": 1, "maximum": 3650});
    let url = json!({"minLength": 1, "maxLength": 2048, "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://"});
    let event_types = json!({
        "minItems": 1,
        "maxItems": 256,
        "items": {"type": "string", "pattern": EVENT_TYPE_FILTER_PATTERN},
    });
    let headers = json!({
        "maxProperties": 32,
        "additionalProperties": {"type": "string", "maxLength": 4096, "pattern": "^[ -~]*$"},
    });
    let rate = json!({"minimum": 1, "maximum": 100_000});
    let concurrency = json!({"minimum": 1, "maximum": 1000});
    let description = json!({
        "maxLength": 1000,
        "pattern": "^[^\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f]*$",
    });
    let mut constraints = Vec::new();
    for schema in ["ProjectIn", "ProjectPatch"] {
        constraints.extend([
            (schema, "name", project_name.clone()),
            (schema, "rate_limit_per_second", positive.clone()),
            (schema, "rate_limit_burst", positive.clone()),
            (schema, "retention_days", retention.clone()),
        ]);
    }
    for schema in ["EndpointIn", "EndpointPatch"] {
        constraints.extend([
            (schema, "url", url.clone()),
            (schema, "description", description.clone()),
            (schema, "event_types", event_types.clone()),
            (schema, "headers", headers.clone()),
            (schema, "rate_limit_per_second", rate.clone()),
            (schema, "max_concurrency", concurrency.clone()),
        ]);
    }
    constraints.extend([
        (
            "ApiKeyIn",
            "name",
            json!({"maxLength": 200, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"}),
        ),
        ("ApiKeyIn", "project_id", id_schema(ProjectId::PREFIX)),
        (
            "ApiKeyIn",
            "scopes",
            json!({
                "minItems": 1,
                "items": {"type": "string", "enum": ["ingest", "read", "admin"]},
            }),
        ),
        (
            "RotateIn",
            "grace_period_seconds",
            json!({"minimum": 0, "maximum": 604_800}),
        ),
        ("RecoverIn", "since", json!({"format": "date-time"})),
        (
            "ReplayIn",
            "endpoint_ids",
            json!({"maxItems": 100, "items": id_schema(EndpointId::PREFIX)}),
        ),
    ]);
    constraints
}

/// Merges [`body_constraints`] into the schemas' properties; returns the
/// entries whose schema or property does not exist.
fn constrain_bodies(schemas: &mut serde_json::Map<String, Value>) -> Vec<String> {
    let mut missing = Vec::new();
    for (schema, property, constraint) in body_constraints() {
        let target = schemas
            .get_mut(schema)
            .and_then(|schema| schema.pointer_mut(&format!("/properties/{property}")))
            .and_then(Value::as_object_mut);
        let (Some(target), Some(constraint)) = (target, constraint.as_object()) else {
            missing.push(format!("{schema}.{property}"));
            continue;
        };
        for (key, value) in constraint {
            // An id schema also carries `type: string`; a nullable field keeps its own type.
            if key != "type" {
                target.insert(key.clone(), value.clone());
            }
        }
    }
    missing
}

/// The id prefix of the resource under `/v1/<collection>`.
fn id_prefix(collection: &str) -> Option<&'static str> {
    Some(match collection {
        "events" => EventId::PREFIX,
        "endpoints" => EndpointId::PREFIX,
        "deliveries" => DeliveryId::PREFIX,
        "projects" => ProjectId::PREFIX,
        "api-keys" => ApiKeyId::PREFIX,
        _ => return None,
    })
}

/// `<prefix>_` and 32 lowercase hex digits: the only spelling ids parse from.
fn id_schema(prefix: &str) -> Value {
    json!({
        "type": "string",
        "pattern": format!("^{prefix}_[0-9a-f]{{32}}$"),
        "minLength": prefix.len() + 33,
        "maxLength": prefix.len() + 33,
    })
}

/// The collection a path names: `/v1/endpoints/{id}` → `endpoints`.
fn collection(path: &str) -> &str {
    path.trim_start_matches("/v1/")
        .split('/')
        .next()
        .unwrap_or("")
}

/// Declares the `{id}` of a path (a handler takes it as a typed
/// `web::Path<…Id>`, which utoipa does not see): the first parameter, in the
/// path, spelt as the ids of the path's collection.
fn declare_path_id(path: &str, operation: &mut Value) {
    let Some(prefix) = id_prefix(collection(path)).filter(|_| path.contains("{id}")) else {
        return;
    };
    let declared = operation["parameters"]
        .as_array()
        .is_some_and(|parameters| {
            parameters
                .iter()
                .any(|p| p["in"] == "path" && p["name"] == "id")
        });
    if declared {
        return;
    }
    let id = json!({
        "name": "id",
        "in": "path",
        "required": true,
        "description": format!("{prefix}_…"),
    });
    match operation["parameters"].as_array_mut() {
        Some(parameters) => parameters.insert(0, id),
        None => operation["parameters"] = json!([id]),
    }
}

fn constrain_parameters(path: &str, operation: &mut Value, max_page_limit: u32) {
    let collection = collection(path);
    let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for parameter in parameters {
        let name = parameter["name"].as_str().unwrap_or("").to_owned();
        let location = parameter["in"].as_str().unwrap_or("").to_owned();
        let schema = match (location.as_str(), name.as_str()) {
            ("path", "id") => id_prefix(collection).map(id_schema),
            ("query", "endpoint_id") => Some(id_schema(EndpointId::PREFIX)),
            ("query", "project_id") => Some(id_schema(ProjectId::PREFIX)),
            ("query", "limit") => Some(json!({
                "type": "integer",
                "minimum": 1,
                "maximum": max_page_limit,
            })),
            // A cursor is the base64url (unpadded) of a 16-byte id: 22
            // characters, the last carrying 2 bits, hence one of four.
            ("query", "cursor") => Some(json!({
                "type": "string",
                "pattern": "^[A-Za-z0-9_-]{21}[AQgw]$",
                "minLength": 22,
                "maxLength": 22,
            })),
            ("query", "since" | "until") => Some(json!({
                "type": "string",
                "format": "date-time",
            })),
            // `*`, an event type, or an event type followed by `.*`.
            ("query", "type") => Some(json!({
                "type": "string",
                "pattern": EVENT_TYPE_FILTER_PATTERN,
            })),
            ("query", "bucket") => Some(json!({
                "type": "string",
                "enum": ["minute", "hour", "day"],
            })),
            _ => None,
        };
        if let Some(schema) = schema {
            parameter["schema"] = schema;
        }
    }
}

/// An optional body (`Option<T>` in the handler) may be left out, but the
/// handlers refuse a JSON `null`: the document says so.
fn refuse_null_bodies(operation: &mut Value) {
    let Some(schema) = operation.pointer_mut("/requestBody/content/application~1json/schema")
    else {
        return;
    };
    let Some(alternatives) = schema.get("oneOf").and_then(Value::as_array) else {
        return;
    };
    let not_null: Vec<&Value> = alternatives
        .iter()
        .filter(|alternative| alternative.get("type") != Some(&json!("null")))
        .collect();
    if let [only] = not_null.as_slice() {
        *schema = (*only).clone();
        operation["requestBody"]["required"] = json!(false);
    }
}

/// Adds each problem answer the operation can give and does not declare yet,
/// and the problem+json body to every error answer declared without one.
fn add_problem_answers(operation: &mut Value) {
    let takes_body = operation.get("requestBody").is_some();
    let parameters = operation
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let takes_path_id = parameters.iter().any(|parameter| parameter["in"] == "path");
    // A path id that does not parse is a 400; only a query or a body can hold a
    // value that is refused (422).
    let parses = takes_body || parameters.iter().any(|parameter| parameter["in"] != "path");
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let mut wanted = vec![
        ("401", "no credentials, or unknown, revoked or expired ones"),
        ("403", "the credentials lack the permission the route needs"),
        (
            "503",
            "a dependency is unavailable or too busy; retry after Retry-After seconds",
        ),
    ];
    if parses {
        wanted.push((
            "422",
            "a parameter or a field of the body is invalid (each offending field is named)",
        ));
    }
    let malformed = match (takes_path_id, takes_body) {
        (true, true) => Some("the id in the path is malformed, or the body is not JSON"),
        (true, false) => Some("the id in the path is malformed"),
        (false, true) => Some("the body is not JSON"),
        (false, false) => None,
    };
    if let Some(description) = malformed {
        wanted.push(("400", description));
    }
    if takes_body {
        wanted.push(("413", "the body exceeds the size limit"));
        wanted.push(("415", "the body is not application/json"));
    }
    for (status, description) in wanted {
        responses
            .entry(status)
            .or_insert_with(|| json!({ "description": description }));
    }
    for (status, response) in responses.iter_mut() {
        let is_error = status.starts_with('4') || status.starts_with('5');
        // Every error answer is a problem document, however the handler declared it.
        if is_error {
            response["content"] = json!({
                PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
            });
        }
    }
}

/// RFC 9457 problem details, as every error answer carries them.
fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "description": "a URI naming the problem"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 100, "maximum": 599},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "description": "the offending fields of an invalid request",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {
                        "field": {"type": "string"},
                        "message": {"type": "string"}
                    }
                }
            }
        }
    })
}

/// The OpenAPI document, rendered once at start-up.
pub struct OpenApiJson(pub String);

const SWAGGER_JS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js");
const SWAGGER_CSS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui.css");
const DOCS_PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>EventFlow API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="docs"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#docs", deepLinking: true, persistAuthorization: true });
  </script>
</body>
</html>
"##;

#[get("/openapi.json")]
pub async fn openapi_json(document: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.0.clone())
}

#[get("/docs")]
pub async fn docs_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(DOCS_PAGE)
}

#[get("/docs/swagger-ui-bundle.js")]
pub async fn docs_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/javascript")
        .insert_header(("cache-control", "public, max-age=86400"))
        .body(SWAGGER_JS)
}

#[get("/docs/swagger-ui.css")]
pub async fn docs_style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css")
        .insert_header(("cache-control", "public, max-age=86400"))
        .body(SWAGGER_CSS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Value {
        let mut document: Value =
            serde_json::from_str(&crate::openapi_document(500).unwrap()).unwrap();
        // `complete` already ran; run the body constraints again to see what they miss.
        let schemas = document["components"]["schemas"].as_object_mut().unwrap();
        assert_eq!(constrain_bodies(schemas), Vec::<String>::new());
        document
    }

    #[test]
    fn every_operation_declares_its_problem_answers() {
        let document = document();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let responses = operation["responses"].as_object().unwrap();
                for status in ["401", "403", "503"] {
                    assert!(responses.contains_key(status), "{method} {path}: {status}");
                }
                if operation.get("requestBody").is_some() {
                    for status in ["400", "415", "422"] {
                        assert!(responses.contains_key(status), "{method} {path}: {status}");
                    }
                }
                if path.contains('{') {
                    assert!(responses.contains_key("400"), "{method} {path}: 400");
                    let parameters = operation["parameters"].as_array().unwrap();
                    assert!(
                        parameters
                            .iter()
                            .any(|p| p["in"] == "path" && p["name"] == "id"),
                        "{method} {path}: the path id"
                    );
                }
                for (status, response) in responses {
                    if status.starts_with('4') || status.starts_with('5') {
                        assert_eq!(
                            response["content"]["application/problem+json"]["schema"]["$ref"],
                            "#/components/schemas/Problem",
                            "{method} {path}: {status}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn parameters_carry_the_constraints_the_api_enforces() {
        let document = document();
        let parameter = |path: &str, name: &str| {
            document["paths"][path]["get"]["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .unwrap()["schema"]
                .clone()
        };
        assert_eq!(
            parameter("/v1/events/{id}", "id")["pattern"],
            "^evt_[0-9a-f]{32}$"
        );
        assert_eq!(
            parameter("/v1/deliveries/{id}", "id")["pattern"],
            "^dlv_[0-9a-f]{32}$"
        );
        assert_eq!(
            parameter("/v1/endpoints/{id}/secret", "id")["pattern"],
            "^ep_[0-9a-f]{32}$"
        );
        let key = &document["paths"]["/v1/api-keys/{id}"]["get"];
        assert_eq!(key["tags"], json!(["api-keys"]));
        assert_eq!(
            key["parameters"][0],
            json!({
                "name": "id",
                "in": "path",
                "required": true,
                "description": "key_…",
                "schema": id_schema(ApiKeyId::PREFIX),
            })
        );
        let limit = parameter("/v1/events", "limit");
        assert_eq!(
            (limit["minimum"].clone(), limit["maximum"].clone()),
            (json!(1), json!(500))
        );
        assert_eq!(parameter("/v1/events", "cursor")["maxLength"], 22);
        assert_eq!(parameter("/v1/stats", "since")["format"], "date-time");
        assert_eq!(
            document["components"]["schemas"]["ApiKeyIn"]["properties"]["scopes"]["minItems"],
            1
        );
        let replay = &document["paths"]["/v1/events/{id}/replay"]["post"]["requestBody"];
        assert_eq!(
            replay["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ReplayIn"
        );
        assert_eq!(replay["required"], false);
    }
}
