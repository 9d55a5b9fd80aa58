//! The checker is itself tested: histories with planted violations.
use super::*;
