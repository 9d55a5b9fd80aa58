//! The query of `GET /v1/cluster` and its check: no parameter but
//! `show_id`, and that one a show id.

use crate::domain::ShowId;
use crate::replies::invalid_request;
use crate::wire::Reply;
use actix_web::web;
use serde::Deserialize;

/// The query of `GET /v1/cluster`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ClusterQuery {
    /// A show: answer only its partition and that partition's lease.
    show_id: Option<String>,
}

impl ClusterQuery {
    /// The query of a request; an unknown parameter is a 400.
    pub(crate) fn parse(query: &str) -> Result<ClusterQuery, Reply> {
        web::Query::<ClusterQuery>::from_query(query)
            .map(web::Query::into_inner)
            .map_err(|e| invalid_request(&format!("bad query: {e}")))
    }

    /// The show asked about, if any; a `show_id` that is not a show id is
    /// a 400.
    pub(crate) fn show(&self) -> Result<Option<ShowId>, Reply> {
        self.show_id
            .as_deref()
            .map(|text| {
                ShowId::parse(text).ok_or_else(|| invalid_request("show_id is not a show id"))
            })
            .transpose()
    }
}
