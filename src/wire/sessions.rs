//! The answer to `POST /v1/sessions`: a guest user and its token.

use serde::Serialize;
use utoipa::ToSchema;

/// A guest user and its bearer token.
#[derive(Serialize, ToSchema)]
#[schema(as = Session)]
pub struct SessionOut {
    /// Unguessable bearer token; send as `Authorization: Bearer <token>`.
    pub token: String,
    /// Opaque id (a UUID).
    pub user_id: String,
}
