// The handle that writes every tenant filter is the crate's own: code
// outside it can neither name it nor take it out of a scope.
use pierre_db::{Database, TenantId};

fn scoped(db: &Database, tenant: TenantId) {
    let scope = db.tenant(tenant);
    let _handle = scope.scoped;
    let _named: Option<pierre_db::scope::Scoped<'_>> = None;
}

fn main() {}
