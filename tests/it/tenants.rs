//! Tenants and tenant membership: creation with the owner's membership as
//! one unit, lookups, keyset listing, and the tenant-scoped members
//! repository with its error cases.

use crate::common;

use entity::sea_orm_active_enums::TenantRole;
use entity::{tenant_users, tenants};
use pierre_db::NewTenant;
use pierre_db::{
    DatabaseError, NewUser, PageRequest, SubscriptionTier, TenantId, TenantUpdate, UserId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

async fn user(t: &common::TestDb, email: &str) -> UserId {
    t.db.users()
        .create(NewUser::new(email, "hash"))
        .await
        .unwrap()
        .id
}

async fn tenant_count(t: &common::TestDb) -> u64 {
    tenants::Entity::find()
        .count(t.db.unscoped_connection())
        .await
        .unwrap()
}

async fn membership_count(t: &common::TestDb) -> u64 {
    tenant_users::Entity::find()
        .count(t.db.unscoped_connection())
        .await
        .unwrap()
}

fn field_of(err: &DatabaseError) -> Option<&'static str> {
    match err {
        DatabaseError::InvalidInput { field, .. } => Some(field),
        _ => None,
    }
}

#[tokio::test]
async fn create_writes_the_tenant_and_the_owner_membership() {
    for t in common::databases().await {
        let b = t.backend;
        let owner = user(&t, "owner@example.org").await;
        let mut new = NewTenant::new("  Acme Runners ", "acme-runners", owner);
        new.domain = Some(" Runs.Acme.Example.ORG ".into());
        new.plan = SubscriptionTier::Professional;
        let tenant = t.db.tenants().create(new).await.unwrap();
        assert_eq!(tenant.name, "Acme Runners", "{b}: name trimmed");
        assert_eq!(tenant.slug, "acme-runners");
        assert_eq!(tenant.domain.as_deref(), Some("runs.acme.example.org"));
        assert_eq!(tenant.plan, SubscriptionTier::Professional);
        assert_eq!(tenant.owner_user_id, owner);
        assert!(tenant.is_active);

        let read = t.db.tenants().get_by_id(tenant.id).await.unwrap();
        assert_eq!(read.as_ref(), Some(&tenant), "{b}: round trip by id");
        let by_slug = t.db.tenants().get_by_slug("acme-runners").await.unwrap();
        assert_eq!(by_slug.as_ref(), Some(&tenant), "{b}: round trip by slug");

        let members = t.db.tenant(tenant.id).members();
        assert_eq!(
            members.get_user_role(owner).await.unwrap(),
            Some(TenantRole::Owner),
            "{b}"
        );
        let membership = members.get(owner).await.unwrap().expect("owner row");
        assert_eq!(membership.tenant_id, tenant.id);
        assert!(membership.is_active);
        assert!(membership.joined_at.is_some());
        assert_eq!(membership.invited_by, None);
        assert_eq!(membership_count(&t).await, 1, "{b}");
    }
}

#[tokio::test]
async fn create_rejects_invalid_input_and_writes_nothing() {
    for t in common::databases().await {
        let b = t.backend;
        let owner = user(&t, "owner@example.org").await;
        let long_name = "n".repeat(201);
        let long_slug = "s".repeat(64);
        let cases: Vec<(NewTenant, &str)> = vec![
            (NewTenant::new("   ", "acme", owner), "name"),
            (NewTenant::new(long_name.as_str(), "acme", owner), "name"),
            (NewTenant::new("Acme", "ab", owner), "slug"),
            (NewTenant::new("Acme", long_slug.as_str(), owner), "slug"),
            (NewTenant::new("Acme", "Acme", owner), "slug"),
            (NewTenant::new("Acme", "acme_club", owner), "slug"),
            (NewTenant::new("Acme", "-acme", owner), "slug"),
            (NewTenant::new("Acme", "acme-", owner), "slug"),
            (NewTenant::new("Acme", "ac me", owner), "slug"),
            (
                NewTenant {
                    domain: Some("localhost".into()),
                    ..NewTenant::new("Acme", "acme", owner)
                },
                "domain",
            ),
            (
                NewTenant {
                    domain: Some("https://acme.example.org".into()),
                    ..NewTenant::new("Acme", "acme", owner)
                },
                "domain",
            ),
        ];
        for (new, field) in cases {
            let slug = new.slug.clone();
            let err = t.db.tenants().create(new).await.unwrap_err();
            assert_eq!(field_of(&err), Some(field), "{b}: slug {slug:?}: {err}");
        }
        // 63 characters is still a valid slug, and a blank domain is none.
        let edge = NewTenant {
            domain: Some("  ".into()),
            ..NewTenant::new("Edge", "e".repeat(63), owner)
        };
        let created = t.db.tenants().create(edge).await.unwrap();
        assert_eq!(created.domain, None, "{b}");
        assert_eq!(tenant_count(&t).await, 1, "{b}: only the valid one");
        assert_eq!(membership_count(&t).await, 1, "{b}");
    }
}

#[tokio::test]
async fn create_with_a_taken_slug_conflicts_and_leaves_no_membership() {
    for t in common::databases().await {
        let b = t.backend;
        let ada = user(&t, "ada@example.org").await;
        let bob = user(&t, "bob@example.org").await;
        let first =
            t.db.tenants()
                .create(NewTenant::new("Acme", "acme", ada))
                .await
                .unwrap();
        let err =
            t.db.tenants()
                .create(NewTenant::new("Other Acme", "acme", bob))
                .await
                .unwrap_err();
        assert!(matches!(err, DatabaseError::Conflict { .. }), "{b}: {err}");
        assert_eq!(tenant_count(&t).await, 1, "{b}");
        assert_eq!(membership_count(&t).await, 1, "{b}: no orphan membership");
        assert!(
            t.db.tenants().list_for_user(bob).await.unwrap().is_empty(),
            "{b}"
        );
        assert_eq!(
            t.db.tenants()
                .get_by_slug("acme")
                .await
                .unwrap()
                .map(|x| x.id),
            Some(first.id)
        );
    }
}

#[tokio::test]
async fn create_with_a_taken_domain_conflicts_but_many_tenants_may_have_none() {
    for t in common::databases().await {
        let b = t.backend;
        let ada = user(&t, "ada@example.org").await;
        let with_domain = |slug: &str, domain: &str| NewTenant {
            domain: Some(domain.into()),
            ..NewTenant::new("Tenant", slug, ada)
        };
        t.db.tenants()
            .create(with_domain("one", "runs.example.org"))
            .await
            .unwrap();
        let err =
            t.db.tenants()
                .create(with_domain("two", "RUNS.example.org"))
                .await
                .unwrap_err();
        assert!(
            matches!(err, DatabaseError::Conflict { .. }),
            "{b}: domains compare lower-cased: {err}"
        );
        t.db.tenants()
            .create(NewTenant::new("Three", "three", ada))
            .await
            .unwrap();
        t.db.tenants()
            .create(NewTenant::new("Four", "four", ada))
            .await
            .unwrap();
        assert_eq!(tenant_count(&t).await, 3, "{b}");
        assert_eq!(membership_count(&t).await, 3, "{b}");
    }
}

#[tokio::test]
async fn create_for_an_unknown_owner_is_a_foreign_key_error_and_writes_nothing() {
    for t in common::databases().await {
        let b = t.backend;
        let err =
            t.db.tenants()
                .create(NewTenant::new("Ghost", "ghost", UserId::new()))
                .await
                .unwrap_err();
        assert!(
            matches!(err, DatabaseError::ForeignKey { .. }),
            "{b}: {err}"
        );
        assert_eq!(tenant_count(&t).await, 0, "{b}");
        assert_eq!(membership_count(&t).await, 0, "{b}");
    }
}

/// Makes every insert into tenant_users fail, after the tenants row of
/// `create` was written: only a real transaction undoes that row.
async fn break_membership_inserts(t: &common::TestDb) {
    let conn = t.db.unscoped_connection();
    let statements: &[&str] = if t.backend == "postgres" {
        &[
            "CREATE FUNCTION refuse_membership() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'membership refused by test'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_membership BEFORE INSERT ON tenant_users FOR EACH ROW EXECUTE FUNCTION refuse_membership()",
        ]
    } else {
        &[
            "CREATE TRIGGER refuse_membership BEFORE INSERT ON tenant_users BEGIN SELECT RAISE(ABORT, 'membership refused by test'); END",
        ]
    };
    for sql in statements {
        conn.execute_unprepared(sql).await.unwrap();
    }
}

#[tokio::test]
async fn create_is_atomic_when_the_membership_insert_fails() {
    for t in common::databases().await {
        let b = t.backend;
        let ada = user(&t, "ada@example.org").await;
        break_membership_inserts(&t).await;
        let result =
            t.db.tenants()
                .create(NewTenant::new("Half", "half", ada))
                .await;
        assert!(result.is_err(), "{b}: the membership insert was refused");
        assert_eq!(
            tenant_count(&t).await,
            0,
            "{b}: the tenant row was rolled back"
        );
        assert_eq!(t.db.tenants().get_by_slug("half").await.unwrap(), None);
    }
}

#[tokio::test]
async fn create_inside_a_transaction_commits_or_rolls_back_with_it() {
    for t in common::databases().await {
        let b = t.backend;
        let ada = user(&t, "ada@example.org").await;

        // The outer transaction fails after the tenant was created: nothing stays.
        let err =
            t.db.transaction(move |tx| {
                Box::pin(async move {
                    tx.tenants()
                        .create(NewTenant::new("Doomed", "doomed", ada))
                        .await?;
                    Err::<(), _>(DatabaseError::invalid("test", "abort on purpose"))
                })
            })
            .await
            .unwrap_err();
        assert_eq!(field_of(&err), Some("test"), "{b}");
        assert_eq!(tenant_count(&t).await, 0, "{b}");
        assert_eq!(membership_count(&t).await, 0, "{b}");

        // A failed create (its savepoint rolled back) leaves the outer
        // transaction usable, and the rest of it commits.
        let created =
            t.db.transaction(move |tx| {
                Box::pin(async move {
                    let first = tx
                        .tenants()
                        .create(NewTenant::new("Kept", "kept", ada))
                        .await?;
                    let clash = tx
                        .tenants()
                        .create(NewTenant::new("Clash", "kept", ada))
                        .await;
                    assert!(matches!(clash, Err(DatabaseError::Conflict { .. })));
                    let second = tx
                        .tenants()
                        .create(NewTenant::new("Also kept", "also-kept", ada))
                        .await?;
                    Ok((first.id, second.id))
                })
            })
            .await
            .unwrap();
        assert_eq!(tenant_count(&t).await, 2, "{b}");
        assert_eq!(membership_count(&t).await, 2, "{b}");
        let mine: Vec<TenantId> =
            t.db.tenants()
                .list_for_user(ada)
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.id)
                .collect();
        assert_eq!(mine, [created.0, created.1], "{b}");
    }
}

#[tokio::test]
async fn lookups_of_missing_tenants_are_none_and_malformed_slugs_are_invalid() {
    for t in common::databases().await {
        let b = t.backend;
        let ada = user(&t, "ada@example.org").await;
        t.db.tenants()
            .create(NewTenant::new("Acme", "acme", ada))
            .await
            .unwrap();
        assert_eq!(
            t.db.tenants().get_by_id(TenantId::new()).await.unwrap(),
            None,
            "{b}"
        );
        assert_eq!(
            t.db.tenants().get_by_slug("globex").await.unwrap(),
            None,
            "{b}"
        );
        let err = t.db.tenants().get_by_slug("ACME").await.unwrap_err();
        assert_eq!(field_of(&err), Some("slug"), "{b}");
    }
}

#[tokio::test]
async fn list_pages_through_every_tenant_in_creation_order() {
    for t in common::databases().await {
        let b = t.backend;
        let ada = user(&t, "ada@example.org").await;
        let mut created = Vec::new();
        for i in 0..5 {
            created.push(
                t.db.tenants()
                    .create(NewTenant::new(format!("T{i}"), format!("tenant-{i}"), ada))
                    .await
                    .unwrap()
                    .id,
            );
        }
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        let mut request = PageRequest::first(2);
        loop {
            let page = t.db.tenants().list(&request).await.unwrap();
            sizes.push(page.items.len());
            seen.extend(page.items.iter().map(|x| x.id));
            assert_eq!(page.has_more, page.next_cursor.is_some());
            match page.next_cursor {
                Some(cursor) => request = PageRequest::after(cursor, 2),
                None => break,
            }
        }
        assert_eq!(sizes, [2, 2, 1], "{b}");
        assert_eq!(seen, created, "{b}: creation order, nothing skipped");

        // A cursor of another list, or an altered one, is refused.
        let members_page =
            t.db.tenant(created[0])
                .members()
                .list(&PageRequest::first(1))
                .await
                .unwrap();
        assert!(members_page.next_cursor.is_none());
        let cursor =
            t.db.tenants()
                .list(&PageRequest::first(1))
                .await
                .unwrap()
                .next_cursor
                .unwrap();
        let err =
            t.db.tenant(created[0])
                .members()
                .list(&PageRequest::after(cursor.clone(), 1))
                .await
                .unwrap_err();
        assert_eq!(field_of(&err), Some("cursor"), "{b}");
        let mut altered = cursor.into_bytes();
        altered[5] = if altered[5] == b'A' { b'B' } else { b'A' };
        let err =
            t.db.tenants()
                .list(&PageRequest::after(String::from_utf8(altered).unwrap(), 1))
                .await
                .unwrap_err();
        assert_eq!(field_of(&err), Some("cursor"), "{b}");
    }
}

#[tokio::test]
async fn list_for_user_returns_the_tenants_with_an_active_membership() {
    for t in common::databases().await {
        let b = t.backend;
        let ada = user(&t, "ada@example.org").await;
        let bob = user(&t, "bob@example.org").await;
        let mut ids = Vec::new();
        for slug in ["owned", "joined", "left", "suspended", "unrelated"] {
            let owner = if slug == "owned" { bob } else { ada };
            ids.push(
                t.db.tenants()
                    .create(NewTenant::new(slug, slug, owner))
                    .await
                    .unwrap()
                    .id,
            );
        }
        let (owned, joined, left, suspended) = (ids[0], ids[1], ids[2], ids[3]);
        for tenant in [joined, left, suspended] {
            t.db.tenant(tenant)
                .members()
                .add(bob, TenantRole::Member, Some(ada))
                .await
                .unwrap();
        }
        assert!(t.db.tenant(left).members().remove(bob).await.unwrap());
        tenant_users::Entity::update_many()
            .col_expr(tenant_users::Column::IsActive, Expr::value(false))
            .filter(tenant_users::Column::TenantId.eq(suspended.as_uuid()))
            .filter(tenant_users::Column::UserId.eq(bob.as_uuid()))
            .exec(t.db.unscoped_connection())
            .await
            .unwrap();

        let bobs: Vec<TenantId> =
            t.db.tenants()
                .list_for_user(bob)
                .await
                .unwrap()
                .into_iter()
                .map(|x| x.id)
                .collect();
        assert_eq!(bobs, [owned, joined], "{b}");
        assert_eq!(
            t.db.tenants().list_for_user(ada).await.unwrap().len(),
            4,
            "{b}"
        );
        assert!(
            t.db.tenants()
                .list_for_user(UserId::new())
                .await
                .unwrap()
                .is_empty()
        );
    }
}

/// A tenant owned by a fresh owner, plus two more users.
struct Members {
    t: common::TestDb,
    owner: UserId,
    alice: UserId,
    bob: UserId,
    acme: TenantId,
    globex: TenantId,
}

async fn members_worlds() -> Vec<Members> {
    let mut out = Vec::new();
    for t in common::databases().await {
        let owner = user(&t, "owner@example.org").await;
        let alice = user(&t, "alice@example.org").await;
        let bob = user(&t, "bob@example.org").await;
        let acme =
            t.db.tenants()
                .create(NewTenant::new("Acme", "acme", owner))
                .await
                .unwrap()
                .id;
        let globex =
            t.db.tenants()
                .create(NewTenant::new("Globex", "globex", owner))
                .await
                .unwrap()
                .id;
        out.push(Members {
            t,
            owner,
            alice,
            bob,
            acme,
            globex,
        });
    }
    out
}

#[tokio::test]
async fn add_records_the_member_and_role() {
    for w in members_worlds().await {
        let b = w.t.backend;
        let members = w.t.db.tenant(w.acme).members();
        let added = members
            .add(w.alice, TenantRole::Admin, Some(w.owner))
            .await
            .unwrap();
        assert_eq!(added.tenant_id, w.acme, "{b}");
        assert_eq!(added.user_id, w.alice);
        assert_eq!(added.role, TenantRole::Admin);
        assert_eq!(added.invited_by, Some(w.owner));
        assert!(added.is_active);
        assert_eq!(members.get(w.alice).await.unwrap(), Some(added), "{b}");
        assert_eq!(
            members.get_user_role(w.alice).await.unwrap(),
            Some(TenantRole::Admin),
            "{b}"
        );
        assert_eq!(members.get_user_role(w.bob).await.unwrap(), None, "{b}");
        assert_eq!(
            w.t.db
                .tenant(w.globex)
                .members()
                .get_user_role(w.alice)
                .await
                .unwrap(),
            None,
            "{b}: a membership of acme is not one of globex"
        );
    }
}

#[tokio::test]
async fn adding_a_member_twice_conflicts_and_keeps_the_first_row() {
    for w in members_worlds().await {
        let b = w.t.backend;
        let members = w.t.db.tenant(w.acme).members();
        members
            .add(w.alice, TenantRole::Viewer, None)
            .await
            .unwrap();
        let err = members
            .add(w.alice, TenantRole::Admin, Some(w.owner))
            .await
            .unwrap_err();
        assert!(matches!(err, DatabaseError::Conflict { .. }), "{b}: {err}");
        assert_eq!(
            members.get_user_role(w.alice).await.unwrap(),
            Some(TenantRole::Viewer),
            "{b}"
        );
        let owner_again = members
            .add(w.owner, TenantRole::Member, None)
            .await
            .unwrap_err();
        assert!(matches!(owner_again, DatabaseError::Conflict { .. }), "{b}");
        // The same user may join another tenant.
        w.t.db
            .tenant(w.globex)
            .members()
            .add(w.alice, TenantRole::Member, None)
            .await
            .unwrap();
        assert_eq!(membership_count(&w.t).await, 4, "{b}: 2 owners + 2 alice");
    }
}

#[tokio::test]
async fn adding_an_unknown_user_inviter_or_tenant_is_a_foreign_key_error_and_writes_nothing() {
    for w in members_worlds().await {
        let b = w.t.backend;
        let before = membership_count(&w.t).await;
        let members = w.t.db.tenant(w.acme).members();
        let err = members
            .add(UserId::new(), TenantRole::Member, None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, DatabaseError::ForeignKey { .. }),
            "{b}: {err}"
        );
        let err = members
            .add(w.alice, TenantRole::Member, Some(UserId::new()))
            .await
            .unwrap_err();
        assert!(
            matches!(err, DatabaseError::ForeignKey { .. }),
            "{b}: {err}"
        );
        let err =
            w.t.db
                .tenant(TenantId::new())
                .members()
                .add(w.alice, TenantRole::Member, None)
                .await
                .unwrap_err();
        assert!(
            matches!(err, DatabaseError::ForeignKey { .. }),
            "{b}: {err}"
        );
        assert_eq!(membership_count(&w.t).await, before, "{b}");
        assert_eq!(members.get(w.alice).await.unwrap(), None, "{b}");
    }
}

#[tokio::test]
async fn remove_reports_whether_a_membership_existed_in_this_tenant() {
    for w in members_worlds().await {
        let b = w.t.backend;
        let acme = w.t.db.tenant(w.acme).members();
        let globex = w.t.db.tenant(w.globex).members();
        acme.add(w.alice, TenantRole::Member, None).await.unwrap();
        globex.add(w.alice, TenantRole::Member, None).await.unwrap();

        assert!(acme.remove(w.alice).await.unwrap(), "{b}");
        assert!(!acme.remove(w.alice).await.unwrap(), "{b}: already gone");
        assert!(!acme.remove(w.bob).await.unwrap(), "{b}: never a member");
        assert_eq!(acme.get(w.alice).await.unwrap(), None);
        assert_eq!(
            globex.get_user_role(w.alice).await.unwrap(),
            Some(TenantRole::Member),
            "{b}: the other tenant's membership is untouched"
        );
    }
}

#[tokio::test]
async fn change_role_updates_members_and_is_not_found_for_non_members() {
    for w in members_worlds().await {
        let b = w.t.backend;
        let acme = w.t.db.tenant(w.acme).members();
        let globex = w.t.db.tenant(w.globex).members();
        acme.add(w.alice, TenantRole::Member, None).await.unwrap();

        acme.change_role(w.alice, TenantRole::Admin).await.unwrap();
        assert_eq!(
            acme.get_user_role(w.alice).await.unwrap(),
            Some(TenantRole::Admin),
            "{b}"
        );
        let err = acme
            .change_role(w.bob, TenantRole::Admin)
            .await
            .unwrap_err();
        assert!(matches!(err, DatabaseError::NotFound { .. }), "{b}: {err}");
        let err = globex
            .change_role(w.alice, TenantRole::Owner)
            .await
            .unwrap_err();
        assert!(
            matches!(err, DatabaseError::NotFound { .. }),
            "{b}: alice is a member of acme, not globex: {err}"
        );
        assert_eq!(
            globex.get(w.alice).await.unwrap(),
            None,
            "{b}: nothing written"
        );
    }
}

#[tokio::test]
async fn get_user_role_ignores_an_inactive_membership() {
    for w in members_worlds().await {
        let b = w.t.backend;
        let acme = w.t.db.tenant(w.acme).members();
        acme.add(w.alice, TenantRole::Admin, None).await.unwrap();
        tenant_users::Entity::update_many()
            .col_expr(tenant_users::Column::IsActive, Expr::value(false))
            .filter(tenant_users::Column::UserId.eq(w.alice.as_uuid()))
            .exec(w.t.db.unscoped_connection())
            .await
            .unwrap();
        assert_eq!(acme.get_user_role(w.alice).await.unwrap(), None, "{b}");
        let row = acme.get(w.alice).await.unwrap().expect("row kept");
        assert!(!row.is_active, "{b}");
    }
}

#[tokio::test]
async fn list_pages_the_members_of_this_tenant_only() {
    for w in members_worlds().await {
        let b = w.t.backend;
        let acme = w.t.db.tenant(w.acme).members();
        let globex = w.t.db.tenant(w.globex).members();
        acme.add(w.alice, TenantRole::Admin, None).await.unwrap();
        acme.add(w.bob, TenantRole::Viewer, None).await.unwrap();
        globex.add(w.bob, TenantRole::Member, None).await.unwrap();

        let first = acme.list(&PageRequest::first(2)).await.unwrap();
        assert!(first.has_more, "{b}");
        let rest = acme
            .list(&PageRequest::after(first.next_cursor.clone().unwrap(), 2))
            .await
            .unwrap();
        assert!(!rest.has_more, "{b}");
        let listed: Vec<(UserId, TenantRole)> = first
            .items
            .iter()
            .chain(&rest.items)
            .map(|m| {
                assert_eq!(m.tenant_id, w.acme, "{b}");
                (m.user_id, m.role)
            })
            .collect();
        assert_eq!(
            listed,
            [
                (w.owner, TenantRole::Owner),
                (w.alice, TenantRole::Admin),
                (w.bob, TenantRole::Viewer)
            ],
            "{b}"
        );
        let globex_all = globex.list(&PageRequest::default()).await.unwrap();
        assert_eq!(globex_all.items.len(), 2, "{b}: owner and bob");

        // acme's cursor is not accepted by globex's list.
        let err = globex
            .list(&PageRequest::after(first.next_cursor.unwrap(), 2))
            .await
            .unwrap_err();
        assert_eq!(field_of(&err), Some("cursor"), "{b}");
    }
}

#[tokio::test]
async fn the_owner_keeps_a_membership_until_ownership_moves() {
    for t in common::databases().await {
        let b = t.backend;
        let ada = common::user(&t, "ada@example.org").await;
        let bob = common::user(&t, "bob@example.org").await;
        let tenant =
            t.db.tenants()
                .create(NewTenant::new("Acme", "acme-runners", ada))
                .await
                .unwrap()
                .id;
        let members = t.db.tenant(tenant).members();
        members.add(bob, TenantRole::Member, None).await.unwrap();

        let err = members.remove(ada).await.unwrap_err();
        assert!(
            matches!(err, DatabaseError::InvalidInput { .. }),
            "{b}: {err}"
        );
        let err = members
            .change_role(ada, TenantRole::Admin)
            .await
            .unwrap_err();
        assert!(
            matches!(err, DatabaseError::InvalidInput { .. }),
            "{b}: {err}"
        );
        assert_eq!(
            members.get_user_role(ada).await.unwrap(),
            Some(TenantRole::Owner)
        );
        // Other members come and go as before.
        members.change_role(bob, TenantRole::Admin).await.unwrap();

        // A non-member cannot receive it.
        let carol = common::user(&t, "carol@example.org").await;
        let err =
            t.db.tenants()
                .transfer_ownership(tenant, carol)
                .await
                .unwrap_err();
        assert!(matches!(err, DatabaseError::NotFound { .. }), "{b}: {err}");

        let moved =
            t.db.tenants()
                .transfer_ownership(tenant, bob)
                .await
                .unwrap();
        assert_eq!(moved.owner_user_id, bob, "{b}");
        assert_eq!(
            members.get_user_role(bob).await.unwrap(),
            Some(TenantRole::Owner)
        );
        assert_eq!(
            members.get_user_role(ada).await.unwrap(),
            Some(TenantRole::Admin)
        );
        assert!(members.remove(ada).await.unwrap(), "{b}: removable now");
        assert!(
            members.remove(bob).await.is_err(),
            "{b}: the new owner is kept"
        );

        // Update and deactivate.
        let updated =
            t.db.tenants()
                .update(
                    tenant,
                    TenantUpdate {
                        name: Some("Acme Club".into()),
                        domain: Some("acme.example.org".into()),
                        plan: Some(SubscriptionTier::Enterprise),
                    },
                )
                .await
                .unwrap();
        assert_eq!(
            (
                updated.name.as_str(),
                updated.domain.as_deref(),
                updated.plan
            ),
            (
                "Acme Club",
                Some("acme.example.org"),
                SubscriptionTier::Enterprise
            ),
            "{b}"
        );
        let cleared =
            t.db.tenants()
                .update(
                    tenant,
                    TenantUpdate {
                        domain: Some(String::new()),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
        assert_eq!((cleared.name.as_str(), cleared.domain), ("Acme Club", None));
        let bad = TenantUpdate {
            domain: Some("not a domain".into()),
            ..Default::default()
        };
        assert!(t.db.tenants().update(tenant, bad).await.is_err(), "{b}");
        assert!(t.db.tenants().deactivate(tenant).await.unwrap(), "{b}");
        assert!(!t.db.tenants().deactivate(tenant).await.unwrap(), "{b}");
        assert!(
            !t.db
                .tenants()
                .get_by_id(tenant)
                .await
                .unwrap()
                .unwrap()
                .is_active
        );
        let unknown = TenantId::new();
        assert!(t.db.tenants().deactivate(unknown).await.is_err(), "{b}");
        // And back: reactivation says whether it changed anything.
        assert!(t.db.tenants().reactivate(tenant).await.unwrap(), "{b}");
        assert!(!t.db.tenants().reactivate(tenant).await.unwrap(), "{b}");
        let back = t.db.tenants().get_by_id(tenant).await.unwrap().unwrap();
        assert!(back.is_active, "{b}");
        assert!(
            matches!(
                t.db.tenants().reactivate(unknown).await,
                Err(DatabaseError::NotFound { .. })
            ),
            "{b}"
        );
    }
}

#[tokio::test]
async fn a_users_home_tenant_must_exist() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let users = w.t.db.users();
        users.update_tenant_id(w.bob, Some(w.acme)).await.unwrap();
        let bob = users.get_by_id(w.bob).await.unwrap().unwrap();
        assert_eq!(bob.tenant_id, Some(w.acme), "{b}");
        let err = users
            .update_tenant_id(w.bob, Some(TenantId::new()))
            .await
            .unwrap_err();
        match &err {
            DatabaseError::ForeignKey { table, columns } => {
                assert_eq!(table.as_deref(), Some("users"), "{b}");
                assert_eq!(columns, &["tenant_id"], "{b}");
            }
            other => panic!("{b}: {other}"),
        }
        assert!(err.to_string().contains("tenant_id"), "{b}: {err}");
        users.update_tenant_id(w.bob, None).await.unwrap();
        assert_eq!(
            users.get_by_id(w.bob).await.unwrap().unwrap().tenant_id,
            None
        );
    }
}

#[tokio::test]
async fn of_callers_reactivating_a_tenant_at_once_exactly_one_changes_it() {
    let dir = tempfile::tempdir().unwrap();
    for t in common::racing(&dir).await {
        let b = t.backend;
        let owner = common::user(&t, "owner@example.org").await;
        let tenant = common::tenant(&t, owner).await;
        // Deactivate, then reactivate, 16 callers each time.
        for active in [false, true] {
            let db = std::sync::Arc::new(t.db.clone());
            let changed = common::all_at_once(16, |_| {
                let db = db.clone();
                async move {
                    if active {
                        db.tenants().reactivate(tenant).await
                    } else {
                        db.tenants().deactivate(tenant).await
                    }
                }
            })
            .await;
            let winners = changed.into_iter().filter(|r| *r.as_ref().unwrap()).count();
            assert_eq!(winners, 1, "{b}: to active = {active}");
        }
        assert!(
            t.db.tenants()
                .get_by_id(tenant)
                .await
                .unwrap()
                .unwrap()
                .is_active,
            "{b}"
        );
    }
}
