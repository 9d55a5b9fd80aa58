//! Every path the server answers, in one table: `configure` serves it, and
//! a test holds the OpenAPI document to it (a route without an operation,
//! or an operation without a route, fails the build's tests).

use super::respond::respond;
use super::{openapi, routes};
use crate::replies;
use actix_web::http::Method;
use actix_web::{web, HttpRequest, Route};

/// A path of the server and the methods it answers.
pub struct Endpoint {
    pub path: &'static str,
    pub routes: Vec<(Method, Route)>,
    /// In the OpenAPI document (the pages' files are not API); read
    /// by the test that holds the document to this table.
    #[cfg_attr(not(test), allow(dead_code))]
    pub documented: bool,
}

fn endpoint(path: &'static str, routes: Vec<(Method, Route)>) -> Endpoint {
    Endpoint {
        path,
        routes,
        documented: true,
    }
}

fn page_file(path: &'static str, handler: Route) -> Endpoint {
    Endpoint {
        path,
        routes: vec![(Method::GET, handler)],
        documented: false,
    }
}

/// Every route of the server, in one table: `configure` serves exactly
/// these, and a test holds the OpenAPI document to the documented ones.
pub fn endpoints() -> Vec<Endpoint> {
    use Method as M;
    vec![
        page_file("/", web::get().to(routes::pages::page_index)),
        page_file("/index.html", web::get().to(routes::pages::page_index)),
        page_file("/app.js", web::get().to(routes::pages::page_script)),
        page_file("/style.css", web::get().to(routes::pages::page_style)),
        page_file("/favicon.ico", web::get().to(routes::pages::page_icon)),
        page_file("/seatmap.js", web::get().to(routes::pages::seat_map_script)),
        page_file("/admin", web::get().to(routes::pages::admin_index)),
        page_file("/admin.js", web::get().to(routes::pages::admin_script)),
        page_file(
            "/admin-create.js",
            web::get().to(routes::pages::admin_create_script),
        ),
        page_file(
            "/admin-show.js",
            web::get().to(routes::pages::admin_show_script),
        ),
        page_file("/admin.css", web::get().to(routes::pages::admin_style)),
        endpoint(
            "/healthz",
            vec![(M::GET, web::get().to(routes::operations::healthz))],
        ),
        endpoint(
            "/metrics",
            vec![(M::GET, web::get().to(routes::operations::metrics))],
        ),
        endpoint(
            "/openapi.json",
            vec![(M::GET, web::get().to(openapi::serve))],
        ),
        endpoint(
            "/v1/cluster",
            vec![(M::GET, web::get().to(routes::cluster::cluster))],
        ),
        endpoint(
            "/v1/admin/export",
            vec![(M::GET, web::get().to(routes::export::export))],
        ),
        endpoint(
            "/v1/sessions",
            vec![(M::POST, web::post().to(routes::sessions::create_session))],
        ),
        endpoint(
            "/v1/shows",
            vec![
                (M::GET, web::get().to(routes::shows::list_shows)),
                (M::POST, web::post().to(routes::shows::create_show)),
            ],
        ),
        endpoint(
            "/v1/shows/{show_id}",
            vec![(M::GET, web::get().to(routes::shows::get_show))],
        ),
        endpoint(
            "/v1/shows/{show_id}/blocks",
            vec![(M::POST, web::post().to(routes::blocks::block_seats))],
        ),
        endpoint(
            "/v1/shows/{show_id}/blocks/{seat_id}",
            vec![(M::DELETE, web::delete().to(routes::blocks::unblock_seat))],
        ),
        endpoint(
            "/v1/shows/{show_id}/sales",
            vec![(M::GET, web::get().to(routes::sales::sales))],
        ),
        endpoint(
            "/v1/shows/{show_id}/bookings",
            vec![(M::GET, web::get().to(routes::show_bookings::show_bookings))],
        ),
        endpoint(
            "/v1/shows/{show_id}/events",
            vec![(M::GET, web::get().to(routes::events::events))],
        ),
        endpoint(
            "/v1/bookings",
            vec![
                (M::GET, web::get().to(routes::bookings::list_bookings)),
                (M::POST, web::post().to(routes::bookings::create_booking)),
            ],
        ),
        endpoint(
            "/v1/bookings/{booking_id}",
            vec![
                (M::GET, web::get().to(routes::bookings::get_booking)),
                (
                    M::DELETE,
                    web::delete().to(routes::bookings::cancel_booking),
                ),
            ],
        ),
        endpoint(
            "/v1/idempotency-keys/{key}",
            vec![(
                M::GET,
                web::get().to(routes::idempotency_keys::get_idempotency_key),
            )],
        ),
        endpoint(
            "/v1/carts",
            vec![(M::POST, web::post().to(routes::carts::create_cart))],
        ),
        endpoint(
            "/v1/carts/{cart_id}",
            vec![(M::GET, web::get().to(routes::carts::get_cart))],
        ),
        endpoint(
            "/v1/carts/{cart_id}/items",
            vec![(M::POST, web::post().to(routes::cart_items::add_item))],
        ),
        endpoint(
            "/v1/carts/{cart_id}/items/{show_id}/{seat_id}",
            vec![(M::DELETE, web::delete().to(routes::cart_items::remove_item))],
        ),
        endpoint(
            "/v1/carts/{cart_id}/checkout",
            vec![(M::POST, web::post().to(routes::carts::checkout))],
        ),
    ]
}

/// The route a request matched, as its pattern: kept with each resource
/// so the metrics middleware labels a request without matching its path
/// against the routes again (`http::observe`).
#[derive(Clone, Copy)]
pub struct RoutePattern(pub &'static str);

/// Serves every endpoint. Paths without parameters are registered first:
/// they match by comparing strings, and a request for one then runs no
/// pattern of the others (actix tries resources in order).
pub fn configure(cfg: &mut web::ServiceConfig) {
    let (fixed, with_parameters): (Vec<Endpoint>, Vec<Endpoint>) = endpoints()
        .into_iter()
        .partition(|endpoint| !endpoint.path.contains('{'));
    for Endpoint {
        path,
        routes,
        documented: _,
    } in fixed.into_iter().chain(with_parameters)
    {
        let mut resource = web::resource(path).app_data(RoutePattern(path));
        let mut allowed: Vec<&str> = Vec::new();
        for (method, route) in routes {
            if method == Method::GET {
                // HEAD is answered as GET without its body (`http::head_as_get`).
                allowed.push("HEAD");
            }
            allowed.push(method_name(&method));
            resource = resource.route(route);
        }
        allowed.sort_unstable();
        let allow = allowed.join(", ");
        // A known path asked with another method: 405 with `Allow`.
        resource = resource.default_service(web::to(move |req: HttpRequest| {
            let allow = allow.clone();
            async move {
                let mut response = respond(replies::method_not_allowed(
                    req.method().as_str(),
                    req.path(),
                    &allow,
                ));
                if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allow) {
                    response
                        .headers_mut()
                        .insert(actix_web::http::header::ALLOW, value);
                }
                response
            }
        }));
        cfg.service(resource);
    }
}

fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        _ => "OPTIONS",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// (path, method) of every documented operation.
    fn documented() -> BTreeSet<(String, String)> {
        let doc = openapi::document();
        let mut found = BTreeSet::new();
        for (path, item) in &doc.paths.paths {
            let methods = [
                ("GET", item.get.is_some()),
                ("PUT", item.put.is_some()),
                ("POST", item.post.is_some()),
                ("DELETE", item.delete.is_some()),
                ("OPTIONS", item.options.is_some()),
                ("HEAD", item.head.is_some()),
                ("PATCH", item.patch.is_some()),
                ("TRACE", item.trace.is_some()),
            ];
            for (method, present) in methods {
                if present {
                    found.insert((path.clone(), method.to_string()));
                }
            }
        }
        found
    }

    /// (path, method) of every route the server serves as API.
    fn served() -> BTreeSet<(String, String)> {
        endpoints()
            .into_iter()
            .filter(|endpoint| endpoint.documented)
            .flat_map(|endpoint| {
                let path = endpoint.path;
                endpoint
                    .routes
                    .into_iter()
                    .map(move |(method, _)| (path.to_string(), method.to_string()))
            })
            .collect()
    }

    #[test]
    fn every_route_is_documented_and_every_operation_served() {
        let (documented, served) = (documented(), served());
        let undocumented: Vec<_> = served.difference(&documented).collect();
        let unserved: Vec<_> = documented.difference(&served).collect();
        assert!(
            undocumented.is_empty(),
            "routes without an operation: {undocumented:?}"
        );
        assert!(
            unserved.is_empty(),
            "operations without a route: {unserved:?}"
        );
    }
}
