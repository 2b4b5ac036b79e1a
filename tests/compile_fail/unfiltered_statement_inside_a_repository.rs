// A repository inside the crate holds a context (`Ctx`) or a scope
// (`Scoped`) and runs statements with the executor traits. These are the
// same types, reached through `pierre_db::internals`: with the handles a
// repository holds, a statement on a tenant-owned table that no scope built
// does not compile, whichever handle runs it.
// The harness links pierre_db alone: the crates a repository uses come
// through it.
use pierre_db::internals::{entity, sea_orm};
use pierre_db::uuid;
use entity::{recipes, user_oauth_tokens as tokens, users};
use pierre_db::internals::{Ctx, RunInsert, RunSelect, RunWrite, Scoped};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

struct SneakyTokens<'a> {
    ctx: Ctx<'a>,
    scope: Scoped<'a>,
}

impl SneakyTokens<'_> {
    async fn every_tenants_tokens(&self) {
        // A select with no tenant filter, on the plain context.
        let _ = tokens::Entity::find().all_in(&self.ctx).await;
        // The same on the scope: its `Deref` to `Ctx` opens no way round.
        let _ = tokens::Entity::find().one_in(&self.scope).await;
        // Tuples and models of an unfiltered select.
        let _ = recipes::Entity::find().tuples::<(uuid::Uuid,)>();
    }

    async fn writes_without_the_tenant(&self) {
        // An update, a delete and an insert of tenant-owned rows.
        let _ = tokens::Entity::update_many()
            .filter(tokens::Column::Provider.eq("strava"))
            .exec_in(&self.scope)
            .await;
        let _ = tokens::Entity::delete_many().exec_in(&self.ctx).await;
        let row = recipes::ActiveModel {
            name: Set("stolen".to_owned()),
            ..Default::default()
        };
        let _ = recipes::Entity::insert(row).exec_without_returning_in(&self.ctx).await;
    }

    async fn global_rows_still_run(&self) {
        // An unowned entity runs as built: this line compiles.
        let _ = users::Entity::find().one_in(&self.ctx).await;
    }
}

fn main() {}
