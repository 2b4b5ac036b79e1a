// Scoped methods take no tenant: the scope already fixed it, and a tenant
// id cannot stand in for the user id they do take.
use pierre_db::OauthProvider;
use pierre_db::{Database, TenantId, UserId};

async fn read(db: &Database, tenant: TenantId, other: TenantId, user: UserId) {
    let _ = db.tenant(tenant).oauth_tokens().get(other, user, OauthProvider::Strava).await;
    let _ = db.tenant(tenant).oauth_tokens().list_for_user(other).await;
    let _ = db.tenant(tenant).oauth2_refresh_tokens().revoke_all_for_user(other).await;
}

fn main() {}
