//! The booking page: its HTML, script, style sheet and icon, embedded in
//! the binary (no build step), each served as it is. They are not API, so
//! they carry no OpenAPI declaration.

use actix_web::HttpResponse;

const PAGE_HTML: &str = include_str!("../../web/index.html");
const PAGE_JS: &str = include_str!("../../web/app.js");
const PAGE_CSS: &str = include_str!("../../web/style.css");
const PAGE_ICON: &str = include_str!("../../web/favicon.svg");

fn page(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body)
}

pub(crate) async fn page_index() -> HttpResponse {
    page("text/html; charset=utf-8", PAGE_HTML)
}

pub(crate) async fn page_script() -> HttpResponse {
    page("text/javascript; charset=utf-8", PAGE_JS)
}

pub(crate) async fn page_style() -> HttpResponse {
    page("text/css; charset=utf-8", PAGE_CSS)
}

/// The site's icon (browsers ask for `/favicon.ico` on every page; a 404
/// there is a console error): a seat, as SVG, which browsers take whatever
/// the name says.
pub(crate) async fn page_icon() -> HttpResponse {
    page("image/svg+xml", PAGE_ICON)
}
