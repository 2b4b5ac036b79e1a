// Tenant-owned repositories have no public constructor and no accessor on
// the database handle: only `db.tenant(id)` hands them out.
use pierre_db::{Database, OAuthTokens, TenantMembers};

fn tokens(db: &Database) {
    let _direct = db.oauth_tokens();
    let _members = db.members();
    let _credentials = db.oauth_credentials();
    let _built = OAuthTokens::new(db.unscoped_connection(), pierre_db::TenantId::new());
    let _built_members = TenantMembers::new(db.unscoped_connection(), pierre_db::TenantId::new());
}

fn main() {}
