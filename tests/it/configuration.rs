//! System settings, admin configuration with its audit log, audit events.

use pierre_db::{
    AuditEventFilter, AuditSeverity, ConfigActor, ConfigAuditFilter, ConfigChange, ConfigDataType,
    DatabaseError, NewAuditEvent, PageRequest,
};
use sea_orm::ConnectionTrait;

use crate::common;

#[tokio::test]
async fn system_settings_upsert_and_auto_approval() {
    for t in common::databases().await {
        let b = t.backend;
        let settings = t.db.system_settings();
        assert_eq!(settings.auto_approval_enabled().await.unwrap(), Some(false));
        settings.set_auto_approval(true).await.unwrap();
        settings.set_auto_approval(true).await.unwrap();
        assert_eq!(settings.auto_approval_enabled().await.unwrap(), Some(true));
        let listed = settings.list().await.unwrap();
        assert_eq!(
            listed
                .iter()
                .filter(|s| s.key == "auto_approval_enabled")
                .count(),
            1,
            "{b}: one row"
        );
        settings
            .set("support_email", "a@example.org", Some("Where help goes"))
            .await
            .unwrap();
        let kept = settings
            .set("support_email", "b@example.org", None)
            .await
            .unwrap();
        assert_eq!(kept.value, "b@example.org", "{b}");
        assert_eq!(kept.description.as_deref(), Some("Where help goes"), "{b}");
        assert!(settings.set("Bad Key", "x", None).await.is_err(), "{b}");
        assert!(settings.set("empty", "  ", None).await.is_err(), "{b}");
        settings
            .set("auto_approval_enabled", "yes", None)
            .await
            .unwrap();
        let err = settings.auto_approval_enabled().await.unwrap_err();
        assert!(matches!(err, DatabaseError::Decode(_)), "{b}: {err}");
        assert!(settings.delete("support_email").await.unwrap(), "{b}");
        assert!(
            settings.get("support_email").await.unwrap().is_none(),
            "{b}"
        );
    }
}

fn actor(w: &common::World) -> ConfigActor {
    let mut actor = ConfigActor::new(w.ada, "ada@example.org");
    actor.ip_address = Some("10.0.0.7".into());
    actor.user_agent = Some("admin-console".into());
    actor
}

fn burst(value: &str) -> ConfigChange {
    let mut change = ConfigChange::new("rate_limiting", "burst", value, ConfigDataType::Integer);
    change.reason = Some("load test".into());
    change
}

#[tokio::test]
async fn overrides_upsert_fall_back_and_log_every_change() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let actor = actor(&w);
        let global = w.t.db.global_admin_config();
        let acme = w.t.db.tenant(w.acme).admin_config();
        let globex = w.t.db.tenant(w.globex).admin_config();
        assert_eq!(global.categories().await.unwrap().len(), 19, "{b}");

        global.set(burst("10"), &actor).await.unwrap();
        global.set(burst("20"), &actor).await.unwrap();
        assert_eq!(
            global.list(None).await.unwrap().len(),
            1,
            "{b}: one global row"
        );
        acme.set(burst("50"), &actor).await.unwrap();
        acme.set(burst("60"), &actor).await.unwrap();
        assert_eq!(
            acme.list(None).await.unwrap().len(),
            1,
            "{b}: one tenant row"
        );
        assert_eq!(
            global.list(None).await.unwrap().len(),
            1,
            "{b}: tenant row not global"
        );

        let effective = async |config: &pierre_db::AdminConfig<'_>| {
            config
                .effective("rate_limiting", "burst")
                .await
                .unwrap()
                .map(|o| o.config_value)
        };
        assert_eq!(
            effective(&acme).await.as_deref(),
            Some("60"),
            "{b}: own row"
        );
        assert_eq!(
            effective(&globex).await.as_deref(),
            Some("20"),
            "{b}: fallback"
        );
        assert!(
            acme.delete("rate_limiting", "burst", &actor, None)
                .await
                .unwrap()
        );
        assert!(
            !acme
                .delete("rate_limiting", "burst", &actor, None)
                .await
                .unwrap()
        );
        assert_eq!(
            effective(&acme).await.as_deref(),
            Some("20"),
            "{b}: back to global"
        );
        assert!(
            globex
                .get("rate_limiting", "burst")
                .await
                .unwrap()
                .is_none(),
            "{b}"
        );

        // The audit log: every change, with old and new values, per handle.
        let log = acme
            .audit_log(&ConfigAuditFilter::default(), &PageRequest::first(10))
            .await
            .unwrap();
        let changes: Vec<(Option<&str>, &str)> = log
            .items
            .iter()
            .map(|e| (e.old_value.as_deref(), e.new_value.as_str()))
            .collect();
        assert_eq!(
            changes,
            [(Some("60"), ""), (Some("50"), "60"), (None, "50")],
            "{b}: newest first"
        );
        let entry = &log.items[1];
        assert_eq!(entry.tenant_id, Some(w.acme), "{b}");
        assert_eq!(entry.admin_email, "ada@example.org", "{b}");
        assert_eq!(entry.ip_address.as_deref(), Some("10.0.0.7"), "{b}");
        assert_eq!(entry.reason.as_deref(), Some("load test"), "{b}");
        assert_eq!(entry.data_type, "integer", "{b}");
        let global_log = global
            .audit_log(&ConfigAuditFilter::default(), &PageRequest::first(10))
            .await
            .unwrap();
        assert_eq!(global_log.items.len(), 2, "{b}: global changes only");
        assert!(
            global_log.items.iter().all(|e| e.tenant_id.is_none()),
            "{b}"
        );
        let filtered = global
            .audit_log(
                &ConfigAuditFilter {
                    key: Some("other".into()),
                    ..Default::default()
                },
                &PageRequest::first(10),
            )
            .await
            .unwrap();
        assert!(filtered.items.is_empty(), "{b}");

        // delete_category logs one row per override.
        let mut flag = ConfigChange::new("feature_flags", "beta", "true", ConfigDataType::Boolean);
        acme.set(flag.clone(), &actor).await.unwrap();
        flag.key = "gamma".into();
        acme.set(flag, &actor).await.unwrap();
        assert_eq!(
            acme.delete_category("feature_flags", &actor, None)
                .await
                .unwrap(),
            2
        );
        let log = acme
            .audit_log(
                &ConfigAuditFilter {
                    category: Some("feature_flags".into()),
                    ..Default::default()
                },
                &PageRequest::first(10),
            )
            .await
            .unwrap();
        assert_eq!(log.items.len(), 4, "{b}: two sets, two deletes");
    }
}

#[tokio::test]
async fn values_are_checked_against_their_type_and_category() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let actor = actor(&w);
        let config = w.t.db.tenant(w.acme).admin_config();
        let bad = [
            ("rate_limiting", "burst", "ten", ConfigDataType::Integer),
            ("rate_limiting", "burst", "1.5", ConfigDataType::Integer),
            ("rate_limiting", "ratio", "NaN", ConfigDataType::Float),
            ("rate_limiting", "ratio", "inf", ConfigDataType::Float),
            ("feature_flags", "beta", "yes", ConfigDataType::Boolean),
            ("feature_flags", "mode", "", ConfigDataType::Enum),
            ("no_such_category", "x", "1", ConfigDataType::Integer),
            ("rate_limiting", "Bad Key", "1", ConfigDataType::Integer),
        ];
        for (category, key, value, data_type) in bad {
            let change = ConfigChange::new(category, key, value, data_type);
            let err = config.set(change, &actor).await.unwrap_err();
            assert!(
                matches!(err, DatabaseError::InvalidInput { .. }),
                "{b}: {category}.{key}={value:?}: {err}"
            );
        }
        let ok = ConfigChange::new("rate_limiting", "ratio", " 1e3 ", ConfigDataType::Float);
        assert_eq!(config.set(ok, &actor).await.unwrap().config_value, "1000");
        let log = config
            .audit_log(&ConfigAuditFilter::default(), &PageRequest::first(10))
            .await
            .unwrap();
        assert_eq!(log.items.len(), 1, "{b}: refused changes are not logged");
    }
}

#[tokio::test]
async fn a_failed_audit_write_rolls_the_override_back() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let actor = actor(&w);
        common::refuse_boom(&w.t, "admin_config_audit", "config_key").await;
        for config in [
            w.t.db.global_admin_config(),
            w.t.db.tenant(w.acme).admin_config(),
        ] {
            let kept = ConfigChange::new("rate_limiting", "boom", "1", ConfigDataType::Integer);
            // The first write of the key fails at its audit row…
            assert!(config.set(kept, &actor).await.is_err(), "{b}");
            assert!(
                config.get("rate_limiting", "boom").await.unwrap().is_none(),
                "{b}"
            );
            let log = config
                .audit_log(&ConfigAuditFilter::default(), &PageRequest::first(10))
                .await
                .unwrap();
            assert!(log.items.is_empty(), "{b}: neither row was written");
        }
    }
}

#[tokio::test]
async fn concurrent_sets_of_one_key_leave_one_row_and_a_full_log() {
    let dir = tempfile::tempdir().unwrap();
    for t in common::racing(&dir).await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let (db, acme, actor) = (w.t.db.clone(), w.acme, actor(&w));
        let results = common::all_at_once(16, |i| {
            let (db, actor) = (db.clone(), actor.clone());
            async move {
                let change = burst(&i.to_string());
                if i % 2 == 0 {
                    db.global_admin_config().set(change, &actor).await
                } else {
                    db.tenant(acme).admin_config().set(change, &actor).await
                }
            }
        })
        .await;
        for r in results {
            r.unwrap();
        }
        for config in [
            w.t.db.global_admin_config(),
            w.t.db.tenant(w.acme).admin_config(),
        ] {
            assert_eq!(config.list(None).await.unwrap().len(), 1, "{b}: one row");
            let log = config
                .audit_log(&ConfigAuditFilter::default(), &PageRequest::first(50))
                .await
                .unwrap();
            assert_eq!(log.items.len(), 8, "{b}: every set logged");
            // The log chains: each old value is the previous new value.
            let current = config.get("rate_limiting", "burst").await.unwrap().unwrap();
            assert_eq!(log.items[0].new_value, current.config_value, "{b}");
            for pair in log.items.windows(2) {
                assert_eq!(
                    pair[0].old_value.as_deref(),
                    Some(pair[1].new_value.as_str())
                );
            }
            assert_eq!(log.items[7].old_value, None, "{b}: the first set");
        }
    }
}

#[tokio::test]
async fn audit_events_record_list_and_filter_per_tenant() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let acme = w.t.db.tenant(w.acme).audit_events();
        let globex = w.t.db.tenant(w.globex).audit_events();
        let platform = w.t.db.global_audit_events();
        for i in 0..5 {
            let severity = if i % 2 == 0 {
                AuditSeverity::Info
            } else {
                AuditSeverity::Critical
            };
            let mut event = NewAuditEvent::new(
                "user.login",
                severity,
                format!("login {i}"),
                "auth",
                "success",
            );
            event.user_id = Some(w.bob);
            event.request_id = Some(format!("req-{i}"));
            event.metadata = Some(serde_json::json!({ "attempt": i }));
            acme.record(event).await.unwrap();
        }
        globex
            .record(NewAuditEvent::new(
                "user.login",
                AuditSeverity::Info,
                "x",
                "auth",
                "success",
            ))
            .await
            .unwrap();
        platform
            .record(NewAuditEvent::new(
                "key.rotated",
                AuditSeverity::Warning,
                "v2",
                "keys",
                "ok",
            ))
            .await
            .unwrap();

        let all = AuditEventFilter::default();
        let page = acme.list(&all, &PageRequest::first(3)).await.unwrap();
        assert_eq!(page.items.len(), 3, "{b}");
        assert_eq!(page.items[0].message, "login 4", "{b}: newest first");
        assert_eq!(page.items[0].request_id.as_deref(), Some("req-4"), "{b}");
        assert_eq!(
            page.items[0].metadata.as_ref().unwrap()["attempt"],
            4,
            "{b}"
        );
        assert!(
            page.items.iter().all(|e| e.tenant_id == Some(w.acme)),
            "{b}"
        );
        let rest = acme
            .list(&all, &PageRequest::after(page.next_cursor.unwrap(), 3))
            .await
            .unwrap();
        assert_eq!(rest.items.len(), 2, "{b}");
        let critical = AuditEventFilter {
            severity: Some(AuditSeverity::Critical),
            ..Default::default()
        };
        assert_eq!(
            acme.list(&critical, &PageRequest::first(10))
                .await
                .unwrap()
                .items
                .len(),
            2
        );
        let later = AuditEventFilter {
            from: Some(pierre_db::chrono::Utc::now() + pierre_db::chrono::Duration::hours(1)),
            ..Default::default()
        };
        assert!(
            acme.list(&later, &PageRequest::first(10))
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert_eq!(
            globex
                .list(&all, &PageRequest::first(10))
                .await
                .unwrap()
                .items
                .len(),
            1
        );
        let platform_events = platform.list(&all, &PageRequest::first(10)).await.unwrap();
        assert_eq!(platform_events.items.len(), 1, "{b}: platform rows only");
        assert_eq!(platform_events.items[0].tenant_id, None, "{b}");

        for bad in [
            NewAuditEvent::new("", AuditSeverity::Info, "m", "s", "r"),
            NewAuditEvent::new("t", AuditSeverity::Info, "", "s", "r"),
            NewAuditEvent::new("t", AuditSeverity::Info, "m".repeat(5000), "s", "r"),
            NewAuditEvent {
                metadata: Some(serde_json::json!([1, 2])),
                ..NewAuditEvent::new("t", AuditSeverity::Info, "m", "s", "r")
            },
        ] {
            let err = acme.record(bad).await.unwrap_err();
            assert!(
                matches!(err, DatabaseError::InvalidInput { .. }),
                "{b}: {err}"
            );
        }
        assert_eq!(
            acme.list(&all, &PageRequest::first(50))
                .await
                .unwrap()
                .items
                .len(),
            5
        );

        // An unknown severity in a row is an error, not a default.
        let conn = w.t.db.unscoped_connection();
        conn.execute_unprepared("UPDATE audit_events SET severity = 'meh'")
            .await
            .unwrap();
        let err = acme.list(&all, &PageRequest::first(10)).await.unwrap_err();
        assert!(matches!(err, DatabaseError::Decode(_)), "{b}: {err}");
    }
}
