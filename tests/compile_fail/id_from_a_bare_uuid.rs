// An id is made from a uuid only by its explicit constructor: `.into()`
// cannot turn a uuid (or another kind of id, through one) into a tenant
// id, and a recipe id is not a goal id.
use pierre_db::uuid::Uuid;
use pierre_db::{Database, GoalId, RecipeId, TenantId, UserId};

async fn wrong_kinds(db: &Database, user: UserId, recipe: RecipeId) {
    let raw = Uuid::now_v7();
    let _tenant: TenantId = raw.into();
    let _from_user: TenantId = user.as_uuid().into();
    let _ = db.goals().get(user, recipe).await;
    let _ = db.goals().get(user, raw).await;
    // The one way, written out:
    let _ = db.goals().get(user, GoalId::from_uuid(raw)).await;
}

fn main() {}
