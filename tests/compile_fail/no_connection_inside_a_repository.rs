// A repository never holds a connection: the context keeps its executor
// to the query module, and a checked statement is made only by a scope.
// The harness links pierre_db alone: the crates a repository uses come
// through it.
use pierre_db::internals::{entity, sea_orm};
use entity::user_oauth_tokens as tokens;
use pierre_db::internals::{Checked, Ctx, Scoped};
use sea_orm::EntityTrait;

fn raw_connection(ctx: Ctx<'_>, scope: Scoped<'_>) {
    let _ = ctx.conn();
    let _ = scope.conn();
}

fn forged_check() {
    let _ = Checked::new(tokens::Entity::find());
}

fn main() {}
