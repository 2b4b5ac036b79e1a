//! A user's OAuth tokens in every tenant: `db.across_tenants().oauth_tokens()`.

use entity::user_oauth_tokens as tokens;
use pierre_db_macros::metered;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
use tracing::instrument;

use super::stored::{decrypt_all, stored};
use super::types::OAuthToken;
use crate::error::Result;
use crate::ids::UserId;
use crate::query::{AllTenants, RunWrite};

/// A user's OAuth tokens in every tenant: `db.across_tenants().oauth_tokens()`.
pub struct CrossTenantOAuthTokens<'a> {
    rows: AllTenants<'a>,
}

impl<'a> CrossTenantOAuthTokens<'a> {
    pub(crate) fn new(rows: AllTenants<'a>) -> Self {
        Self { rows }
    }

    /// Every token of the user, in every tenant (by tenant, then provider).
    #[metered]
    #[instrument(skip_all, fields(user_id = %user))]
    pub async fn list_for_user(&self, user: UserId) -> Result<Vec<OAuthToken>> {
        let select = self
            .rows
            .find::<tokens::Entity>()
            .filter(tokens::Column::UserId.eq(user.as_uuid()))
            .order_by_asc(tokens::Column::TenantId)
            .order_by_asc(tokens::Column::Provider);
        let rows = stored(&self.rows, select).await?;
        decrypt_all(&self.rows, rows).await
    }

    /// Deletes every token of the user in every tenant; how many.
    #[metered]
    #[instrument(skip_all, fields(user_id = %user))]
    pub async fn delete_all_for_user(&self, user: UserId) -> Result<u64> {
        Ok(self
            .rows
            .delete::<tokens::Entity>()
            .filter(tokens::Column::UserId.eq(user.as_uuid()))
            .exec_in(&self.rows)
            .await?
            .rows_affected)
    }
}
