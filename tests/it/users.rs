//! The users repository, method by method, on both backends.

use crate::common;

use pierre_db::OauthProvider;
use pierre_db::{DatabaseError, NewUser, UserId, UserRole, UserStatus};
use sea_orm::{ConnectionTrait, Statement};

fn user(email: &str) -> NewUser {
    NewUser::new(email, "$argon2id$hash")
}

#[tokio::test]
async fn create_and_read_back() {
    for t in common::databases().await {
        let users = t.db.users();
        let mut new = user("Grace.Hopper@Example.COM");
        new.display_name = Some("  Grace Hopper ".into());
        new.firebase_uid = Some("fb-123".into());
        new.auth_provider = "firebase".into();
        let created = users.create(new).await.unwrap();
        assert_eq!(created.email, "grace.hopper@example.com", "{}", t.backend);
        assert_eq!(created.display_name.as_deref(), Some("Grace Hopper"));
        assert_eq!(created.status, UserStatus::Pending);
        assert_eq!(created.role, UserRole::User);
        assert_eq!(
            users.get_by_id(created.id).await.unwrap(),
            Some(created.clone()),
            "{}",
            t.backend
        );
        assert_eq!(
            users
                .get_by_email("GRACE.hopper@EXAMPLE.com")
                .await
                .unwrap(),
            Some(created.clone())
        );
        assert_eq!(
            users
                .get_by_email_required("Grace.Hopper@example.com")
                .await
                .unwrap(),
            created
        );
        assert_eq!(
            users.get_by_firebase_uid("fb-123").await.unwrap(),
            Some(created.clone())
        );
        assert_eq!(users.get_by_firebase_uid("fb-999").await.unwrap(), None);
        assert_eq!(users.get_by_id(UserId::new()).await.unwrap(), None);
        assert_eq!(users.count().await.unwrap(), 1);
    }
}

#[tokio::test]
async fn create_rejects_duplicates_and_bad_input_without_writing() {
    for t in common::databases().await {
        let users = t.db.users();
        users.create(user("a@example.org")).await.unwrap();
        assert!(matches!(
            users.create(user("a@example.org")).await,
            Err(DatabaseError::Conflict { .. })
        ));
        // The same person in other letter cases is the same account.
        for spelling in ["A@example.org", "a@EXAMPLE.ORG", " A@Example.Org "] {
            assert!(
                matches!(
                    users.create(user(spelling)).await,
                    Err(DatabaseError::Conflict { .. })
                ),
                "{}: {spelling}",
                t.backend
            );
        }
        let mut dup_uid = user("b@example.org");
        dup_uid.firebase_uid = Some("same".into());
        users.create(dup_uid.clone()).await.unwrap();
        dup_uid.email = "c@example.org".into();
        assert!(matches!(
            users.create(dup_uid).await,
            Err(DatabaseError::Conflict { .. })
        ));
        assert!(matches!(
            users.create(NewUser::new("d@example.org", "")).await,
            Err(DatabaseError::InvalidInput {
                field: "password_hash",
                ..
            })
        ));
        let mut bad_provider = user("e@example.org");
        bad_provider.auth_provider = "Email Password".into();
        assert!(matches!(
            users.create(bad_provider).await,
            Err(DatabaseError::InvalidInput {
                field: "auth_provider",
                ..
            })
        ));
        assert_eq!(
            users.count().await.unwrap(),
            2,
            "{}: failed calls wrote nothing",
            t.backend
        );
    }
}

#[tokio::test]
async fn status_password_name_and_activity_updates() {
    for t in common::databases().await {
        let users = t.db.users();
        let admin = users.create(user("admin@example.org")).await.unwrap();
        let u = users.create(user("u@example.org")).await.unwrap();

        let approved = users
            .update_status(u.id, UserStatus::Active, Some(admin.id))
            .await
            .unwrap();
        assert_eq!(approved.status, UserStatus::Active);
        assert_eq!(approved.approved_by, Some(admin.id));
        assert!(approved.approved_at.is_some());
        let suspended = users
            .update_status(u.id, UserStatus::Suspended, None)
            .await
            .unwrap();
        assert_eq!(suspended.approved_by, None);
        assert!(matches!(
            users
                .update_status(UserId::new(), UserStatus::Active, None)
                .await,
            Err(DatabaseError::NotFound { .. })
        ));
        assert!(matches!(
            users
                .update_status(u.id, UserStatus::Active, Some(UserId::new()))
                .await,
            Err(DatabaseError::ForeignKey { .. })
        ));
        assert_eq!(
            users.get_by_id(u.id).await.unwrap().unwrap().status,
            UserStatus::Suspended
        );

        users.update_password(u.id, "$argon2id$new").await.unwrap();
        let stored: String =
            t.db.unscoped_connection()
                .query_one_raw(Statement::from_sql_and_values(
                    t.db.unscoped_connection().get_database_backend(),
                    match t.backend {
                        "sqlite" => "SELECT password_hash FROM users WHERE email = ?",
                        _ => "SELECT password_hash FROM users WHERE email = $1",
                    },
                    ["u@example.org".into()],
                ))
                .await
                .unwrap()
                .unwrap()
                .try_get_by_index(0)
                .unwrap();
        assert_eq!(stored, "$argon2id$new");
        assert!(matches!(
            users.update_password(u.id, "").await,
            Err(DatabaseError::InvalidInput { .. })
        ));
        assert!(matches!(
            users.update_password(UserId::new(), "x").await,
            Err(DatabaseError::NotFound { .. })
        ));

        users
            .update_display_name(u.id, Some("Ursula"))
            .await
            .unwrap();
        assert_eq!(
            users
                .get_by_id(u.id)
                .await
                .unwrap()
                .unwrap()
                .display_name
                .as_deref(),
            Some("Ursula")
        );
        users.update_display_name(u.id, None).await.unwrap();
        assert_eq!(
            users.get_by_id(u.id).await.unwrap().unwrap().display_name,
            None
        );
        assert!(
            users
                .update_display_name(u.id, Some("bad\nname"))
                .await
                .is_err()
        );

        let before = users.get_by_id(u.id).await.unwrap().unwrap().last_active;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        users.update_last_active(u.id).await.unwrap();
        assert!(users.get_by_id(u.id).await.unwrap().unwrap().last_active > before);
        assert!(users.update_last_active(UserId::new()).await.is_err());
    }
}

#[tokio::test]
async fn list_by_status_and_first_admin() {
    for t in common::databases().await {
        let users = t.db.users();
        assert_eq!(users.first_admin().await.unwrap(), None);
        let mut ids = Vec::new();
        for i in 0..5 {
            let u = users
                .create(user(&format!("p{i}@example.org")))
                .await
                .unwrap();
            ids.push(u.id);
        }
        let listed: Vec<UserId> = users
            .list_by_status(UserStatus::Pending, 3)
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.id)
            .collect();
        assert_eq!(listed, ids[..3]);
        assert!(
            users
                .list_by_status(UserStatus::Suspended, 10)
                .await
                .unwrap()
                .is_empty()
        );

        // Promote two users to admin through the role column; the older one wins.
        for id in [ids[3], ids[1]] {
            t.db.unscoped_connection()
                .execute_raw(Statement::from_sql_and_values(
                    t.db.unscoped_connection().get_database_backend(),
                    match t.backend {
                        "sqlite" => "UPDATE users SET role = 'admin' WHERE id = ?",
                        _ => "UPDATE users SET role = 'admin' WHERE id = $1",
                    },
                    [id.as_uuid().into()],
                ))
                .await
                .unwrap();
        }
        assert_eq!(
            users.first_admin().await.unwrap().map(|u| u.id),
            Some(ids[1]),
            "{}",
            t.backend
        );
    }
}

#[tokio::test]
async fn delete_cascades_and_reports_whether_the_user_existed() {
    for t in common::databases().await {
        let users = t.db.users();
        let u = users.create(user("gone@example.org")).await.unwrap();
        let owner = users.create(user("owner@example.org")).await.unwrap();
        let tenant = common::tenant(&t, owner.id).await;
        t.db.tenant(tenant)
            .oauth_tokens()
            .upsert(pierre_db::NewOAuthToken::new(
                u.id,
                OauthProvider::Strava,
                "tok",
            ))
            .await
            .unwrap();
        assert!(users.delete(u.id).await.unwrap());
        assert!(!users.delete(u.id).await.unwrap());
        assert!(
            t.db.tenant(tenant)
                .oauth_tokens()
                .list_for_user(u.id)
                .await
                .unwrap()
                .is_empty()
        );
        // The owner of a tenant cannot be deleted before the tenant.
        let refused = users.delete(owner.id).await;
        assert!(
            matches!(refused, Err(DatabaseError::ForeignKey { .. })),
            "{}: {refused:?}",
            t.backend
        );
        assert!(users.get_by_id(owner.id).await.unwrap().is_some());
    }
}
