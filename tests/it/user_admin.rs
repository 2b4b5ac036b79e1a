//! User administration: roles, deactivation, the last administrator, the
//! login lookups, and the audit trail of each change.

use pierre_db::{AuditEventFilter, DatabaseError, PageRequest, UserRole};

use crate::common;

async fn admin_events(t: &common::TestDb) -> Vec<pierre_db::AuditEvent> {
    t.db.global_audit_events()
        .list(&AuditEventFilter::default(), &PageRequest::first(100))
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn roles_and_activity_change_recorded_and_the_flag_follows() {
    for t in common::databases().await {
        let root = common::user(&t, "root@example.org").await;
        let ada = common::user(&t, "ada@example.org").await;
        let users = t.db.users();

        let made = users
            .set_role(ada, UserRole::Admin, Some(root))
            .await
            .unwrap();
        assert_eq!(
            (made.role, made.is_admin),
            (UserRole::Admin, true),
            "{}",
            t.backend
        );
        // The same role again changes and records nothing.
        users
            .set_role(ada, UserRole::Admin, Some(root))
            .await
            .unwrap();
        let events = admin_events(&t).await;
        assert_eq!(events.len(), 1, "{}: {events:?}", t.backend);
        assert_eq!(events[0].event_type, "user.role_changed");
        assert_eq!(events[0].user_id, Some(root));
        let metadata = events[0].metadata.clone().unwrap();
        assert_eq!(metadata["from"], "user");
        assert_eq!(metadata["to"], "admin");
        assert_eq!(metadata["target_user_id"], ada.to_string());

        // Deactivated: gone from the login lookups, found by the
        // administrator's, and back after reactivation.
        users.set_active(root, false, Some(ada)).await.unwrap();
        assert!(
            users
                .get_by_email("root@example.org")
                .await
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            users.get_by_email_required("root@example.org").await,
            Err(DatabaseError::NotFound { .. })
        ));
        let found = users
            .get_by_email_including_inactive("root@example.org")
            .await
            .unwrap()
            .unwrap();
        assert!(!found.is_active);
        assert!(users.get_by_id(root).await.unwrap().is_some());
        users.set_active(root, true, Some(ada)).await.unwrap();
        assert!(
            users
                .get_by_email("root@example.org")
                .await
                .unwrap()
                .is_some()
        );
        let kinds: Vec<String> = admin_events(&t)
            .await
            .into_iter()
            .map(|e| e.event_type)
            .collect();
        // Newest first.
        assert_eq!(
            kinds,
            ["user.activated", "user.deactivated", "user.role_changed"],
            "{}",
            t.backend
        );

        assert!(matches!(
            users
                .set_role(
                    pierre_db::UserId::from_uuid(pierre_db::uuid::Uuid::new_v4()),
                    UserRole::Admin,
                    None
                )
                .await,
            Err(DatabaseError::NotFound { .. })
        ));
    }
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_demoted_or_deactivated() {
    for t in common::databases().await {
        let ada = common::user(&t, "ada@example.org").await;
        let bob = common::user(&t, "bob@example.org").await;
        let users = t.db.users();
        users
            .set_role(ada, UserRole::SuperAdmin, None)
            .await
            .unwrap();
        let before = admin_events(&t).await.len();
        for refused in [
            users.set_role(ada, UserRole::User, Some(bob)).await,
            users.set_active(ada, false, Some(bob)).await,
        ] {
            match refused {
                Err(DatabaseError::LastAdmin { user, .. }) => assert_eq!(user, ada.to_string()),
                other => panic!("{}: {other:?}", t.backend),
            }
        }
        // Nothing changed, nothing recorded.
        let ada_now = users.get_by_id(ada).await.unwrap().unwrap();
        assert_eq!(
            (ada_now.role, ada_now.is_active),
            (UserRole::SuperAdmin, true)
        );
        assert_eq!(admin_events(&t).await.len(), before);

        // With a second administrator, the first may step down; a
        // deactivated administrator does not count.
        users
            .set_role(bob, UserRole::Admin, Some(ada))
            .await
            .unwrap();
        users.set_active(bob, false, Some(ada)).await.unwrap();
        assert!(matches!(
            users.set_role(ada, UserRole::User, None).await,
            Err(DatabaseError::LastAdmin { .. })
        ));
        // Deleting the last one is refused too.
        assert!(matches!(
            users.delete(ada).await,
            Err(DatabaseError::LastAdmin {
                change: "deleting",
                ..
            })
        ));
        users.set_active(bob, true, Some(ada)).await.unwrap();
        let stepped_down = users
            .set_role(ada, UserRole::User, Some(ada))
            .await
            .unwrap();
        assert_eq!(
            (stepped_down.role, stepped_down.is_admin),
            (UserRole::User, false)
        );
    }
}

#[tokio::test]
async fn concurrent_demotions_always_leave_one_admin() {
    let dir = tempfile::tempdir().unwrap();
    for t in common::racing(&dir).await {
        let mut admins = Vec::new();
        for i in 0..16 {
            let id = common::user(&t, &format!("admin{i}@example.org")).await;
            t.db.users()
                .set_role(id, UserRole::Admin, None)
                .await
                .unwrap();
            admins.push(id);
        }
        let db = t.db.clone();
        let outcomes = common::all_at_once(16, |i| {
            let (db, id) = (db.clone(), admins[i]);
            async move { db.users().set_role(id, UserRole::User, None).await }
        })
        .await;
        let refused = outcomes
            .iter()
            .filter(|o| matches!(o, Err(DatabaseError::LastAdmin { .. })))
            .count();
        let other_errors: Vec<_> = outcomes
            .iter()
            .filter(|o| matches!(o, Err(e) if !matches!(e, DatabaseError::LastAdmin { .. })))
            .collect();
        assert!(other_errors.is_empty(), "{}: {other_errors:?}", t.backend);
        assert_eq!(refused, 1, "{}", t.backend);
        let first = t.db.users().first_admin().await.unwrap();
        assert!(first.is_some(), "{}: no admin left", t.backend);
        let left = common::text_column(
            &t.db,
            "SELECT email FROM users WHERE is_admin = TRUE AND is_active = TRUE",
        )
        .await;
        assert_eq!(left.len(), 1, "{}: {left:?}", t.backend);
    }
}

#[tokio::test]
async fn lists_without_a_cursor_refuse_a_limit_they_cannot_honour() {
    for t in common::databases().await {
        // One more user than the largest page.
        let max = pierre_db::MAX_PAGE_SIZE as usize;
        for i in 0..=max {
            let mut new = pierre_db::NewUser::new(format!("u{i}@example.org"), "h");
            new.status = pierre_db::UserStatus::Pending;
            t.db.users().create(new).await.unwrap();
        }
        let users = t.db.users();
        let pending = pierre_db::UserStatus::Pending;
        for refused in [0, pierre_db::MAX_PAGE_SIZE + 1] {
            assert!(
                matches!(
                    users.list_by_status(pending, refused).await,
                    Err(DatabaseError::InvalidInput { field: "limit", .. })
                ),
                "{}: limit {refused}",
                t.backend
            );
        }
        let most = users
            .list_by_status(pending, pierre_db::MAX_PAGE_SIZE)
            .await
            .unwrap();
        assert_eq!(most.len(), max);
        // The paged list reaches every one.
        let mut seen = 0;
        let mut request = PageRequest::first(pierre_db::MAX_PAGE_SIZE);
        loop {
            let page = users
                .list_by_status_paginated(pending, &request)
                .await
                .unwrap();
            seen += page.items.len();
            match page.next_cursor {
                Some(next) => request = PageRequest::after(next, pierre_db::MAX_PAGE_SIZE),
                None => break,
            }
        }
        assert_eq!(seen, max + 1, "{}", t.backend);

        assert!(matches!(
            t.db.api_keys()
                .list_expired(pierre_db::MAX_PAGE_SIZE + 1)
                .await,
            Err(DatabaseError::InvalidInput { field: "limit", .. })
        ));
        let w = common::World::new(common::sqlite().await).await;
        let chat = w.t.db.tenant(w.acme).chat();
        let talk = chat
            .create_conversation(pierre_db::NewConversation::new(w.ada, "t"))
            .await
            .unwrap();
        assert!(matches!(
            chat.recent_messages(w.ada, talk.id, pierre_db::Chat::MAX_RECENT + 1)
                .await,
            Err(DatabaseError::InvalidInput { field: "limit", .. })
        ));
    }
}
