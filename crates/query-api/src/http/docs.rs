//! `/openapi.json` (generated from the handlers and their types, so it
//! cannot drift) and `/docs`, an interactive page (Swagger UI, served from
//! this binary: no CDN, works offline).

use actix_web::{HttpResponse, get, web};
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
