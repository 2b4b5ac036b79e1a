//! Usage: API-key and JWT usage, request logs, and their statistics.

pub mod api_usage;
pub mod request_logs;
pub mod stats;

pub use api_usage::{NewApiKeyUsage, NewJwtUsage, Usage};
pub use request_logs::{NewRequestLog, RequestLog, RequestLogFilter};
pub use stats::{SystemStats, UsageStats};

use crate::query::RunWrite;
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};

/// `1` for a successful status in `status` (see [`Usage::SUCCESS_STATUSES`]),
/// NULL otherwise: `COUNT` of it counts successes. The one definition of
/// success, for every usage table.
pub(crate) fn successes(status: impl sea_orm::sea_query::IntoColumnRef) -> SimpleExpr {
    Expr::case(
        Expr::col(status).between(
            i32::from(*Usage::SUCCESS_STATUSES.start()),
            i32::from(*Usage::SUCCESS_STATUSES.end()),
        ),
        1,
    )
    .into()
}

/// Inserts `rows` `per_statement` at a time in ONE write transaction (a
/// savepoint when already in one): every row or none. Returns how many
/// were written.
pub(crate) async fn insert_in_batches<A>(
    ctx: &crate::repositories::Ctx<'_>,
    rows: Vec<A>,
    per_statement: usize,
) -> crate::error::Result<u64>
where
    A: sea_orm::ActiveModelTrait + Send + 'static,
    A::Entity: crate::query::Unowned,
{
    use sea_orm::EntityTrait;
    if rows.is_empty() {
        return Ok(0);
    }
    ctx.in_write_tx(|tx| {
        Box::pin(async move {
            let mut written = 0;
            let mut rows = rows.into_iter();
            loop {
                let chunk: Vec<A> = rows.by_ref().take(per_statement).collect();
                if chunk.is_empty() {
                    return Ok(written);
                }
                written += A::Entity::insert_many(chunk).exec_in(&tx).await?;
            }
        })
    })
    .await
}
