//! The web dashboard: a single page (HTML, CSS and JavaScript written by hand, no build
//! step, no CDN) compiled into the binary and served on the HTTP listener at `/`. It
//! signs in with the broker's users and drives the `/api/` endpoints with basic auth,
//! so it can do exactly what its user may do through the API and nothing more.
//! Reference: docs/dashboard.md.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const INDEX_HTML: &str = include_str!("../assets/dashboard/index.html");
const APP_JS: &str = include_str!("../assets/dashboard/app.js");
const CHART_JS: &str = include_str!("../assets/dashboard/chart.js");
const STYLE_CSS: &str = include_str!("../assets/dashboard/style.css");

/// The header the dashboard sends with every API call (see [`quiet_auth`]).
pub const DASHBOARD_HEADER: &str = "x-trident-dashboard";

/// Everything the page loads comes from this origin; no inline script, no frames.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The dashboard's routes (no state: the assets are constants).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/dashboard", get(index))
        .route("/dashboard/", get(index))
        .route(
            "/dashboard/app.js",
            get(|| asset(APP_JS, "text/javascript")),
        )
        .route(
            "/dashboard/chart.js",
            get(|| asset(CHART_JS, "text/javascript")),
        )
        .route("/dashboard/style.css", get(|| asset(STYLE_CSS, "text/css")))
}

async fn index() -> Response {
    asset(INDEX_HTML, "text/html; charset=utf-8").await
}

async fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The assets change with the binary; revalidating costs nothing on a local listener.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// A refused login normally carries `WWW-Authenticate`, so that curl and a browser
/// opening `/api/...` directly ask for credentials (RabbitMQ does the same). For the
/// dashboard's own calls the header would make the browser pop up its native login
/// dialog over the page's form after a wrong password, so it is dropped when the
/// request says it comes from the dashboard.
pub async fn quiet_auth(req: Request, next: Next) -> Response {
    let from_dashboard = req.headers().contains_key(DASHBOARD_HEADER);
    let mut resp = next.run(req).await;
    if from_dashboard {
        resp.headers_mut().remove(header::WWW_AUTHENTICATE);
    }
    resp
}
