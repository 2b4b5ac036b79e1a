//! Impersonation sessions and permission delegations.

use pierre_db::ImpersonationId;
use pierre_db::chrono::{Duration, Utc};
use pierre_db::{DatabaseError, ImpersonationFilter, PageRequest};

use crate::common;

#[tokio::test]
async fn impersonation_keeps_one_active_session_per_impersonator() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let carol = common::user(&w.t, "carol@example.org").await;
        let sessions = w.t.db.impersonations();

        let err = sessions.start(w.ada, w.ada, None).await.unwrap_err();
        assert!(
            matches!(err, DatabaseError::InvalidInput { .. }),
            "{b}: {err}"
        );
        let unknown = pierre_db::UserId::new();
        let err = sessions.start(unknown, w.bob, None).await.unwrap_err();
        assert!(matches!(err, DatabaseError::NotFound { .. }), "{b}: {err}");
        let err = sessions.start(w.ada, unknown, None).await.unwrap_err();
        assert!(
            matches!(err, DatabaseError::ForeignKey { .. }),
            "{b}: {err}"
        );

        let first = sessions
            .start(w.ada, w.bob, Some("ticket 1"))
            .await
            .unwrap();
        assert!(first.is_active && first.ended_at.is_none(), "{b}");
        assert_eq!(
            sessions.active_for(w.bob).await.unwrap().unwrap().id,
            first.id
        );
        assert_eq!(
            sessions.active_for(w.ada).await.unwrap().unwrap().id,
            first.id
        );
        // Starting another ends the first.
        let second = sessions.start(w.ada, carol, None).await.unwrap();
        let ended = sessions.get(first.id).await.unwrap();
        assert!(!ended.is_active && ended.ended_at.is_some(), "{b}");
        assert!(sessions.active_for(w.bob).await.unwrap().is_none(), "{b}");
        assert_eq!(
            sessions.active_for(carol).await.unwrap().unwrap().id,
            second.id
        );

        // Ending twice keeps the first ended_at.
        assert!(sessions.end(second.id).await.unwrap(), "{b}");
        let at = sessions.get(second.id).await.unwrap().ended_at;
        assert!(!sessions.end(second.id).await.unwrap(), "{b}");
        assert_eq!(sessions.get(second.id).await.unwrap().ended_at, at, "{b}");
        let err = sessions.end(ImpersonationId::new()).await.unwrap_err();
        assert!(matches!(err, DatabaseError::NotFound { .. }), "{b}");

        // Bob impersonates too; end_all counts only the impersonator's.
        sessions.start(w.bob, carol, None).await.unwrap();
        sessions.start(w.ada, carol, None).await.unwrap();
        assert_eq!(sessions.end_all_for(w.ada).await.unwrap(), 1, "{b}");
        assert_eq!(sessions.end_all_for(w.ada).await.unwrap(), 0, "{b}");

        // Lists: newest first, by impersonator, target, running only.
        let list = async |filter: ImpersonationFilter| {
            let mut request = PageRequest::first(2);
            let mut seen = Vec::new();
            loop {
                let page = sessions.list(&filter, &request).await.unwrap();
                seen.extend(page.items.iter().map(|s| s.id));
                match page.next_cursor {
                    Some(c) => request = PageRequest::after(c, 2),
                    None => break seen,
                }
            }
        };
        let by_ada = list(ImpersonationFilter {
            impersonator: Some(w.ada),
            ..Default::default()
        })
        .await;
        assert_eq!(by_ada.len(), 3, "{b}");
        assert_eq!(by_ada[1], second.id, "{b}: newest first");
        assert_eq!(by_ada[2], first.id, "{b}");
        let of_carol = list(ImpersonationFilter {
            target: Some(carol),
            ..Default::default()
        })
        .await;
        assert_eq!(of_carol.len(), 3, "{b}");
        let running = list(ImpersonationFilter {
            active_only: true,
            ..Default::default()
        })
        .await;
        assert_eq!(running.len(), 1, "{b}: only Bob's");
        assert_eq!(list(ImpersonationFilter::default()).await.len(), 4, "{b}");
    }
}

#[tokio::test]
async fn concurrent_starts_leave_exactly_one_active_session() {
    let dir = tempfile::tempdir().unwrap();
    for t in common::racing(&dir).await {
        let b = t.backend;
        let root = common::user(&t, "root@example.org").await;
        let mut targets = Vec::new();
        for i in 0..16 {
            targets.push(common::user(&t, &format!("u{i}@example.org")).await);
        }
        let db = t.db.clone();
        let started = common::all_at_once(16, |i| {
            let (db, target) = (db.clone(), targets[i]);
            async move { db.impersonations().start(root, target, None).await }
        })
        .await;
        for s in started {
            s.unwrap();
        }
        let running =
            t.db.impersonations()
                .list(
                    &ImpersonationFilter {
                        impersonator: Some(root),
                        active_only: true,
                        ..Default::default()
                    },
                    &PageRequest::first(100),
                )
                .await
                .unwrap();
        assert_eq!(running.items.len(), 1, "{b}: exactly one active");
        let all =
            t.db.impersonations()
                .list(
                    &ImpersonationFilter {
                        impersonator: Some(root),
                        ..Default::default()
                    },
                    &PageRequest::first(100),
                )
                .await
                .unwrap();
        assert_eq!(all.items.len(), 16, "{b}: every start recorded");
    }
}

#[tokio::test]
async fn delegations_regrant_expire_and_combine() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let carol = common::user(&w.t, "carol@example.org").await;
        let grants = w.t.db.permission_delegations();

        for (bits, why) in [(0u64, "no bits"), (1 << 63, "bit 63")] {
            let err = grants.grant(w.ada, w.bob, bits, None).await.unwrap_err();
            assert!(
                matches!(err, DatabaseError::InvalidInput { .. }),
                "{b}: {why}"
            );
        }
        let err = grants.grant(w.ada, w.ada, 1, None).await.unwrap_err();
        assert!(
            matches!(err, DatabaseError::InvalidInput { .. }),
            "{b}: self"
        );
        let past = Utc::now() - Duration::hours(1);
        assert!(
            grants.grant(w.ada, w.bob, 1, Some(past)).await.is_err(),
            "{b}"
        );

        let first = grants.grant(w.ada, w.bob, 0b0011, None).await.unwrap();
        grants.grant(carol, w.bob, 0b0100, None).await.unwrap();
        assert_eq!(grants.effective_permissions(w.bob).await.unwrap(), 0b0111);

        // Revoke, then grant again: the same row, active again.
        grants.revoke(w.ada, w.bob).await.unwrap();
        let err = grants.revoke(w.ada, w.bob).await.unwrap_err();
        assert!(matches!(err, DatabaseError::NotFound { .. }), "{b}");
        assert_eq!(grants.effective_permissions(w.bob).await.unwrap(), 0b0100);
        let again = grants.grant(w.ada, w.bob, 0b1000, None).await.unwrap();
        assert_eq!(again.id, first.id, "{b}: one row per pair");
        assert_eq!(again.revoked_at, None, "{b}");
        assert_eq!(grants.effective_permissions(w.bob).await.unwrap(), 0b1100);
        assert_eq!(grants.active_for_grantee(w.bob).await.unwrap().len(), 2);
        assert_eq!(grants.by_grantor(w.ada).await.unwrap().len(), 1, "{b}");

        // An expired grant does not count (expired in the database: the
        // API refuses a past expiry).
        let soon = Utc::now() + Duration::hours(1);
        grants
            .grant(carol, w.bob, 0b0100, Some(soon))
            .await
            .unwrap();
        let conn = w.t.db.unscoped_connection();
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        entity::permission_delegations::Entity::update_many()
            .col_expr(
                entity::permission_delegations::Column::ExpiresAt,
                Expr::value(past.fixed_offset()),
            )
            .filter(entity::permission_delegations::Column::GrantorId.eq(carol.as_uuid()))
            .exec(conn)
            .await
            .unwrap();
        assert_eq!(grants.effective_permissions(w.bob).await.unwrap(), 0b1000);
        assert_eq!(grants.active_for_grantee(w.bob).await.unwrap().len(), 1);
        let expired = grants.between(carol, w.bob).await.unwrap().unwrap();
        assert!(!expired.is_active_at(Utc::now()), "{b}");
    }
}
