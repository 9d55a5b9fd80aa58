//! The OpenAPI 3.1 document, generated from the code: the operations from
//! the handlers' `#[utoipa::path]` declarations (`routes/`), the bodies
//! from the request and response types (`requests/`, `wire/`), the
//! problem examples from the engine's own problem replies (`replies::Code`,
//! `replies::problem`), and the `Idempotent-Replayed` header from the rule
//! of which answers are stored (`StoredReply::is_storable`).
//!
//! Why generated: a document written by hand beside the code drifts from
//! it (a field added to a reply and not to the document; a title spelled
//! one way in the code and another in the examples). A test holds the
//! document's operations to the server's route table (`endpoints::endpoints`).

use super::doc_parts::*;
use super::routes;
use crate::domain::StoredReply;
use crate::replies::Code;
use crate::wire;
use actix_web::HttpResponse;
use std::sync::OnceLock;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, RefOr};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "boxoffice",
        version = "1.2.0",
        description = "Seat-reservation HTTP API: contract v1 with its 1.1 additions (seat \
            categories and prices, accessible seats, best available, key look-up, \
            event-stream resume) and its 1.2 additions (running a box office: house seats, \
            sales figures, a show's bookings and cancels on behalf, sales end; the admin \
            export, `GET /v1/admin/export`). \
            JSON in and out; times are RFC 3339 UTC; ids are opaque strings. Every error is \
            `application/problem+json` (RFC 9457). Every POST except \
            `POST /v1/sessions` requires an `Idempotency-Key` header.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    servers((url = "/")),
    tags(
        (name = "identity", description = "Guest users and their bearer tokens."),
        (name = "shows", description = "Shows, their seat maps and live seat events."),
        (name = "bookings", description = "Booking seats in one shot, listing and cancelling bookings."),
        (name = "carts", description = "Holding seats in a cart, then checking it out."),
        (name = "box office", description = "Running sales (admin): house seats, sales figures, a show's bookings."),
        (name = "operations", description = "Liveness, metrics, this document and the cluster."),
    ),
    paths(
        routes::sessions::create_session,
        routes::shows::list_shows,
        routes::shows::create_show,
        routes::shows::get_show,
        super::routes::events::events,
        routes::bookings::list_bookings,
        routes::bookings::create_booking,
        routes::bookings::get_booking,
        routes::idempotency_keys::get_idempotency_key,
        routes::bookings::cancel_booking,
        routes::carts::create_cart,
        routes::carts::get_cart,
        routes::cart_items::add_item,
        routes::cart_items::remove_item,
        routes::carts::checkout,
        routes::blocks::block_seats,
        routes::blocks::unblock_seat,
        routes::sales::sales,
        routes::show_bookings::show_bookings,
        routes::operations::healthz,
        routes::operations::metrics,
        serve,
        routes::cluster::cluster,
        super::routes::export::export,
    ),
    components(
        schemas(wire::SeatEventOut),
        responses(
            Unauthorized,
            Forbidden,
            RequestTimeout,
            PayloadTooLarge,
            IdempotencyKeyReused,
            RateLimited,
            Overloaded,
        )
    ),
    modifiers(&Contract),
)]
struct ApiDoc;

/// The document, as served at `/openapi.json` (built once).
pub fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serialises")
    })
}

/// The document as a value (for tests and tools).
pub fn document() -> Document {
    ApiDoc::openapi()
}

#[utoipa::path(
    get, path = "/openapi.json", tag = "operations", operation_id = "getOpenApi",
    security(()),
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of the HTTP API.", content_type = "application/json", body = Object),
    ),
)]
/// This OpenAPI document
///
/// Generated from the code at start.
pub(super) async fn serve() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document_json())
}

/// What the declarations leave to the code: the bearer scheme, problem
/// examples for the codes each problem answer names, and the replay and
/// retry headers.
struct Contract;

impl Modify for Contract {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A guest token from `POST /v1/sessions`, or (for admin endpoints) the \
                         admin token `BOXOFFICE_ADMIN_TOKEN`.",
                    ))
                    .build(),
            ),
        );
        if let Some(RefOr::T(utoipa::openapi::schema::Schema::Object(problem))) =
            components.schemas.get_mut("Problem")
        {
            let codes: Vec<&str> = CODES.iter().map(|code| code.slug()).collect();
            problem.description = Some(format!(
                "RFC 9457 problem details. The last path segment of `type` is one of the \
                 error codes: {}.",
                codes.join(", ")
            ));
        }
        for item in doc.paths.paths.values_mut() {
            for operation in operations(item) {
                complete(operation);
            }
        }
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> Vec<&mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(|operation| operation.as_mut())
    .collect()
}

/// Fills in one operation's problem examples and headers.
fn complete(operation: &mut Operation) {
    let keyed = operation.parameters.iter().flatten().any(|parameter| {
        parameter.name == "Idempotency-Key" && parameter.parameter_in == ParameterIn::Header
    });
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let status: u16 = status.parse().unwrap_or(0);
        let named: Vec<Code> = CODES
            .into_iter()
            .filter(|code| code.status() == status)
            .filter(|code| response.description.contains(&format!("`{}`", code.slug())))
            .collect();
        if !named.is_empty() {
            response
                .content
                .insert("application/problem+json".into(), problem_content(&named));
            if named.iter().any(|code| retries_after(*code)) {
                response
                    .headers
                    .insert("Retry-After".into(), retry_after_header());
            }
        }
        if keyed && StoredReply::is_storable(status) {
            response
                .headers
                .insert("Idempotent-Replayed".into(), replayed_header());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_answer_has_an_example_of_each_code_it_names() {
        let doc: serde_json::Value = serde_json::from_str(document_json()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for (status, response) in operation["responses"].as_object().unwrap() {
                    let Some(problem) = response["content"].get("application/problem+json") else {
                        continue;
                    };
                    let examples = problem["examples"].as_object();
                    assert!(
                        examples.is_some_and(|e| !e.is_empty()),
                        "{method} {path} {status}: a problem answer without examples"
                    );
                    for (slug, example) in examples.unwrap() {
                        let value = &example["value"];
                        assert_eq!(value["status"].as_u64().unwrap().to_string(), *status);
                        assert!(value["type"].as_str().unwrap().ends_with(slug.as_str()));
                    }
                }
            }
        }
    }

    #[test]
    fn keyed_writes_declare_the_replay_header() {
        let doc: serde_json::Value = serde_json::from_str(document_json()).unwrap();
        let created = &doc["paths"]["/v1/bookings"]["post"]["responses"]["201"];
        assert!(
            created["headers"]["Idempotent-Replayed"].is_object(),
            "{created}"
        );
        let listed = &doc["paths"]["/v1/bookings"]["get"]["responses"]["200"];
        assert!(listed["headers"].get("Idempotent-Replayed").is_none());
    }

    /// Statuses once declared that the handlers cannot answer, or answered
    /// and not declared (checked against a running server, docs/API.md §8).
    #[test]
    fn declared_statuses_are_those_answered() {
        let doc: serde_json::Value = serde_json::from_str(document_json()).unwrap();
        let statuses = |path: &str, method: &str| -> Vec<String> {
            let responses = doc["paths"][path][method]["responses"].as_object();
            responses.unwrap().keys().cloned().collect()
        };
        let sessions = statuses("/v1/sessions", "post");
        for status in ["400", "408", "413", "429", "503"] {
            assert!(sessions.contains(&status.to_string()), "{sessions:?}");
        }
        // The admin token is exempt from the rate limit and the key cap,
        // not from the throttle of an address that guesses tokens
        // (http::token_guesses): every admin route may answer 429.
        for (path, method) in [
            ("/v1/shows", "post"),
            ("/v1/cluster", "get"),
            ("/v1/admin/export", "get"),
        ] {
            assert!(
                statuses(path, method).contains(&"429".to_string()),
                "{method} {path}"
            );
        }
        // A malformed id in the path is an unknown one: 404, never 400.
        for (path, method) in [
            ("/v1/shows/{show_id}", "get"),
            ("/v1/shows/{show_id}/events", "get"),
            ("/v1/bookings/{booking_id}", "get"),
            ("/v1/bookings/{booking_id}", "delete"),
            ("/v1/carts/{cart_id}", "get"),
            ("/v1/carts/{cart_id}/items/{show_id}/{seat_id}", "delete"),
        ] {
            let declared = statuses(path, method);
            assert!(!declared.contains(&"400".to_string()), "{method} {path}");
            assert!(declared.contains(&"404".to_string()), "{method} {path}");
        }
        // A forwarded request whose outcome stays unknown answers 409
        // `request-in-progress` (http::forward), the unkeyed deletes too.
        for path in [
            "/v1/bookings/{booking_id}",
            "/v1/carts/{cart_id}/items/{show_id}/{seat_id}",
        ] {
            assert!(
                statuses(path, "delete").contains(&"409".to_string()),
                "{path}"
            );
        }
        let aisle = &doc["components"]["schemas"]["Seat"]["properties"]["aisle_after"];
        assert_eq!(aisle["type"], "boolean", "never null: {aisle}");
    }
}
