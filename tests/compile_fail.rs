//! Tenant scoping holds at compile time: code outside the crate cannot build
//! a tenant-owned repository without a scope, nor hand a tenant id to a
//! scoped method.

#![allow(
    clippy::unwrap_used,
    reason = "a test that cannot go on fails by panicking"
)]

#[test]
fn tenant_scoping_is_enforced_by_the_compiler() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/compile_fail/*.rs");
}
