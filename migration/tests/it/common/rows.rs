//! Minimal rows for the migration tests, bound the way the entities bind
//! them (uuid values, UTC timestamps, enum casts on PostgreSQL).
#![allow(
    dead_code,
    reason = "shared helpers: not every test module uses each one"
)]

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbErr};
use uuid::Uuid;

use super::TestDb;

/// A timestamp as the entities write it.
pub fn now() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::Utc::now().fixed_offset()
}

/// A value for an enum column (cast to the type on PostgreSQL).
pub fn enum_val(value: &str, type_name: &'static str) -> Expr {
    Expr::val(value).as_enum(type_name)
}

/// Inserts `values` into `table`.
pub async fn insert(
    db: &TestDb,
    table: &'static str,
    values: Vec<(&'static str, Expr)>,
) -> Result<(), DbErr> {
    let (columns, exprs): (Vec<_>, Vec<_>) = values.into_iter().unzip();
    let stmt = Query::insert()
        .into_table(table)
        .columns(columns)
        .values(exprs)
        .map_err(|err| DbErr::Custom(err.to_string()))?
        .to_owned();
    db.conn.execute(&stmt).await.map(|_| ())
}

/// Inserts a user and returns its id.
pub async fn user(db: &TestDb) -> Uuid {
    let id = Uuid::new_v4();
    insert(
        db,
        "users",
        vec![
            ("id", Expr::val(id)),
            ("email", Expr::val(format!("{id}@example.com"))),
            ("password_hash", Expr::val("x")),
            ("created_at", Expr::val(now())),
            ("last_active", Expr::val(now())),
        ],
    )
    .await
    .expect("insert user");
    id
}

/// Inserts a tenant owned by `owner` and returns its id.
pub async fn tenant(db: &TestDb, owner: Uuid) -> Uuid {
    let id = Uuid::new_v4();
    insert(
        db,
        "tenants",
        vec![
            ("id", Expr::val(id)),
            ("name", Expr::val("Acme")),
            ("slug", Expr::val(format!("acme-{id}"))),
            ("owner_user_id", Expr::val(owner)),
            ("created_at", Expr::val(now())),
            ("updated_at", Expr::val(now())),
        ],
    )
    .await
    .expect("insert tenant");
    id
}

/// Counts the rows of `table` matching `condition`.
pub async fn count_where(db: &TestDb, table: &'static str, condition: Condition) -> i64 {
    let stmt = Query::select()
        .expr(Expr::col(Asterisk).count())
        .from(table)
        .cond_where(condition)
        .to_owned();
    let row = db.conn.query_one(&stmt).await.expect("count").expect("row");
    row.try_get_by_index::<i64>(0).expect("count value")
}

/// Counts every row of `table`.
pub async fn count(db: &TestDb, table: &'static str) -> i64 {
    count_where(db, table, Condition::all()).await
}

/// A JSON document (jsonb on PostgreSQL).
pub fn json(text: &str) -> Expr {
    let value: sea_orm_migration::sea_orm::JsonValue = text.parse().expect("valid JSON");
    Expr::val(value)
}

/// A user's OAuth app credential for `provider`; its id.
pub async fn app_credential(db: &TestDb, user_id: Uuid, provider: &str) -> Result<Uuid, DbErr> {
    let id = Uuid::new_v4();
    insert(
        db,
        "user_oauth_app_credentials",
        vec![
            ("id", Expr::val(id)),
            ("user_id", Expr::val(user_id)),
            ("provider", enum_val(provider, "oauth_provider")),
            ("client_id", Expr::val("client")),
            ("client_secret", Expr::val("v1:sealed")),
            ("redirect_uri", Expr::val("https://example.com/cb")),
            ("created_at", Expr::val(now())),
            ("updated_at", Expr::val(now())),
        ],
    )
    .await
    .map(|()| id)
}

/// A tenant's OAuth credential for `provider`; its id.
pub async fn tenant_credential(
    db: &TestDb,
    tenant_id: Uuid,
    provider: &str,
) -> Result<Uuid, DbErr> {
    let id = Uuid::new_v4();
    insert(
        db,
        "tenant_oauth_credentials",
        vec![
            ("id", Expr::val(id)),
            ("tenant_id", Expr::val(tenant_id)),
            ("provider", enum_val(provider, "oauth_provider")),
            ("client_id", Expr::val("client")),
            ("client_secret_encrypted", Expr::val("v1:sealed")),
            ("redirect_uri", Expr::val("https://example.com/cb")),
            ("scopes", json("[\"read\"]")),
            ("created_at", Expr::val(now())),
            ("updated_at", Expr::val(now())),
        ],
    )
    .await
    .map(|()| id)
}
