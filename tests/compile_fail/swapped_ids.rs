// Typed ids: a user id is not a tenant id.
use pierre_db::{Database, UserId};

fn scope(db: &Database, user: UserId) {
    let _ = db.tenant(user);
}

fn main() {}
