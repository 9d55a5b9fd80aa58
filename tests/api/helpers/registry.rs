//! Every test of the `api` binary, as `#[api_test]` (tests/macros)
//! registers it, for main.rs to run. Here, in the helpers, because
//! `commit_queue` includes them too, and the helpers' own tests
//! (`power_cut::disk::tests`) register there as well (where nothing runs
//! them: that binary runs on libtest).

use super::environment::Need;

/// A test, as `#[api_test]` registers it.
pub struct ApiTest {
    /// `module_path!()` where it is written (the binary's name first).
    pub module: &'static str,
    pub name: &'static str,
    pub needs: &'static [Need],
    /// Ignored always, and why (`#[api_test(ignore = "...")]`).
    pub ignore: Option<&'static str>,
    pub run: fn(),
}

impl ApiTest {
    /// The name libtest gave it: its module path without the binary's
    /// name, then its own (`bookings::two_users_race::sled`).
    pub fn full_name(&self) -> String {
        match self.module.split_once("::") {
            Some((_, module)) => format!("{module}::{}", self.name),
            None => self.name.to_string(),
        }
    }
}

/// Every test of the binary (`#[api_test]` adds each, at link time).
#[linkme::distributed_slice]
pub static API_TESTS: [ApiTest];
