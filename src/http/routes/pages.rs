//! The booking page and the staff console (`/admin`): their HTML, scripts,
//! style sheets and icon, embedded in the binary (no build step), each
//! served as it is; both draw seats with the shared `/seatmap.js`. They are
//! not API, so they carry no OpenAPI declaration.

use actix_web::HttpResponse;

const PAGE_HTML: &str = include_str!("../../web/index.html");
const PAGE_JS: &str = include_str!("../../web/app.js");
const PAGE_CSS: &str = include_str!("../../web/style.css");
const PAGE_ICON: &str = include_str!("../../web/favicon.svg");
const SEAT_MAP_JS: &str = include_str!("../../web/seatmap.js");
const ADMIN_HTML: &str = include_str!("../../web/admin.html");
const ADMIN_JS: &str = include_str!("../../web/admin.js");
const ADMIN_CREATE_JS: &str = include_str!("../../web/admin-create.js");
const ADMIN_SHOW_JS: &str = include_str!("../../web/admin-show.js");
const ADMIN_CSS: &str = include_str!("../../web/admin.css");

/// What a page may load and who may frame it: scripts, styles, images and
/// requests from this server only, no inline script or style, no framing
/// (the pages hold bearer tokens, the console the admin's), no `<base>`
/// rewriting and forms that post nowhere else.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn page(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        // A page's address (a show, a booking) is nobody else's business.
        .insert_header(("Referrer-Policy", "no-referrer"))
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

/// The seat map renderer both pages load.
pub(crate) async fn seat_map_script() -> HttpResponse {
    page("text/javascript; charset=utf-8", SEAT_MAP_JS)
}

/// The staff console: shows and their sales, a show's creation with a
/// preview of its hall, house seats, bookings. It asks for the admin token
/// and keeps it in the tab's `sessionStorage`.
pub(crate) async fn admin_index() -> HttpResponse {
    page("text/html; charset=utf-8", ADMIN_HTML)
}

/// The console's sign-in, routing, shows list and the requests they share.
pub(crate) async fn admin_script() -> HttpResponse {
    page("text/javascript; charset=utf-8", ADMIN_JS)
}

/// The console's form that creates a show.
pub(crate) async fn admin_create_script() -> HttpResponse {
    page("text/javascript; charset=utf-8", ADMIN_CREATE_JS)
}

/// The console's view of one show: seat map, house seats, sales, bookings.
pub(crate) async fn admin_show_script() -> HttpResponse {
    page("text/javascript; charset=utf-8", ADMIN_SHOW_JS)
}

pub(crate) async fn admin_style() -> HttpResponse {
    page("text/css; charset=utf-8", ADMIN_CSS)
}
