// A tenant-owned repository has no public constructor and no accessor on
// the database handle: only `db.tenant(id)` hands one out.
use pierre_db::{Database, OAuthTokens};

fn tokens(db: &Database) {
    let _direct = db.oauth_tokens();
    let _built = OAuthTokens::new(db.unscoped_connection(), pierre_db::TenantId::new());
}

fn main() {}
