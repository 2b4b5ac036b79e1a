//! Keyset pages: every row once, in order; cursors are opaque and checked;
//! the page query seeks on the index.

use crate::common;

use std::collections::HashSet;

use pierre_db::{DatabaseError, NewUser, PageRequest, UserStatus};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

async fn seed(t: &common::TestDb, active: usize, pending: usize) {
    for i in 0..active {
        let mut user = NewUser::new(format!("active{i}@example.org"), "h");
        user.status = UserStatus::Active;
        t.db.users().create(user).await.unwrap();
    }
    for i in 0..pending {
        t.db.users()
            .create(NewUser::new(format!("pending{i}@example.org"), "h"))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn pages_return_every_row_once_in_order() {
    for t in common::databases().await {
        seed(&t, 103, 7).await;
        let mut seen = Vec::new();
        let mut request = PageRequest::first(10);
        let mut pages = 0;
        loop {
            let page =
                t.db.users()
                    .list_by_status_paginated(UserStatus::Active, &request)
                    .await
                    .unwrap();
            pages += 1;
            assert!(page.items.len() <= 10);
            assert!(page.items.iter().all(|u| u.status == UserStatus::Active));
            seen.extend(page.items.iter().map(|u| (u.created_at, u.id)));
            match page.next_cursor {
                Some(cursor) => {
                    assert!(page.has_more);
                    request = PageRequest::after(cursor, 10);
                }
                None => {
                    assert!(!page.has_more);
                    break;
                }
            }
        }
        assert_eq!(pages, 11, "{}", t.backend);
        assert_eq!(seen.len(), 103, "{}", t.backend);
        let unique: HashSet<_> = seen.iter().collect();
        assert_eq!(unique.len(), 103, "{}: no row twice", t.backend);
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(seen, sorted, "{}: ordered by (created_at, id)", t.backend);
    }
}

#[tokio::test]
async fn tampered_foreign_and_garbage_cursors_are_invalid_input() {
    for t in common::databases().await {
        seed(&t, 5, 5).await;
        let users = t.db.users();
        let active = users
            .list_by_status_paginated(UserStatus::Active, &PageRequest::first(2))
            .await
            .unwrap();
        let cursor = active.next_cursor.expect("more pages");

        let mut tampered = cursor.clone().into_bytes();
        let middle = tampered.len() / 2;
        tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();

        for (status, bad) in [
            (UserStatus::Active, tampered.as_str()),
            (UserStatus::Pending, cursor.as_str()),
            (UserStatus::Active, "garbage"),
            (UserStatus::Active, &cursor[..cursor.len() / 2]),
        ] {
            let err = users
                .list_by_status_paginated(status, &PageRequest::after(bad, 2))
                .await
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    DatabaseError::InvalidInput {
                        field: "cursor",
                        ..
                    }
                ),
                "{}: {bad:?}: {err:?}",
                t.backend
            );
        }
    }
}

#[tokio::test]
async fn limits_are_clamped() {
    let t = common::sqlite().await;
    seed(&t, 3, 0).await;
    let page =
        t.db.users()
            .list_by_status_paginated(UserStatus::Active, &PageRequest::first(0))
            .await
            .unwrap();
    assert_eq!(page.items.len(), 1);
    let page =
        t.db.users()
            .list_by_status_paginated(UserStatus::Active, &PageRequest::first(u32::MAX))
            .await
            .unwrap();
    assert_eq!(page.items.len(), 3);
    assert!(!page.has_more);
}

/// The statement the repository sends for a page after a cursor, as SQL
/// text (what SeaORM renders for this backend).
fn page_query(backend: DbBackend) -> String {
    use entity::users;
    use sea_orm::sea_query::{Expr, ExprTrait};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait};
    let at = chrono::Utc::now().fixed_offset();
    users::Entity::find()
        .filter(users::Column::UserStatus.eq(UserStatus::Active))
        .filter(
            Expr::tuple([
                Expr::col(users::Column::CreatedAt),
                Expr::col(users::Column::Id),
            ])
            .gt(Expr::tuple([Expr::val(at), Expr::val(uuid::Uuid::nil())])),
        )
        .order_by_asc(users::Column::CreatedAt)
        .order_by_asc(users::Column::Id)
        .limit(51)
        .build(backend)
        .to_string()
}

#[tokio::test]
async fn the_page_query_seeks_on_the_status_index() {
    for t in common::databases().await {
        use sea_orm::TransactionTrait;
        // One transaction, so the planner setting and the EXPLAIN share a connection.
        let conn = t.db.unscoped_connection().begin().await.unwrap();
        let backend = conn.get_database_backend();
        let explain = match backend {
            DbBackend::Sqlite => "EXPLAIN QUERY PLAN ",
            _ => {
                // A near-empty table would be scanned; forbid that so the
                // plan shows whether the index can serve the query at all.
                conn.execute_unprepared("SET LOCAL enable_seqscan = off")
                    .await
                    .unwrap();
                "EXPLAIN "
            }
        };
        let rows = conn
            .query_all_raw(Statement::from_string(
                backend,
                format!("{explain}{}", page_query(backend)),
            ))
            .await
            .unwrap();
        let plan: Vec<String> = rows
            .iter()
            .map(|row| {
                let last = if backend == DbBackend::Sqlite { 3 } else { 0 };
                row.try_get_by_index::<String>(last).unwrap()
            })
            .collect();
        let plan = plan.join("\n");
        assert!(
            plan.contains("idx_users_user_status_created_at_id"),
            "{}: plan does not use the index:\n{plan}",
            t.backend
        );
        assert!(
            !plan.contains("TEMP B-TREE"),
            "{}: sorts instead of seeking:\n{plan}",
            t.backend
        );
        assert!(
            !plan.contains("Sort"),
            "{}: sorts instead of seeking:\n{plan}",
            t.backend
        );
    }
}
