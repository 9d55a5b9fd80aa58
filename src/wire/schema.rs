//! The OpenAPI schema of a status field: a string, one of the values the
//! body files write (each lists its own, from the domain's lists).

use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

/// A string schema whose value is one of `values`.
pub(super) fn one_of(values: impl IntoIterator<Item = &'static str>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .build()
}
