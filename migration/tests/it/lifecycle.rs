//! `up`, `reset` and `up` again; every migration's `down` undoes its `up`.

use crate::common;

use migration::{Migrator, MigratorTrait, TABLES};
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::common::TestDb;

async fn table_names(db: &TestDb) -> Vec<String> {
    let sql = match db.backend {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        _ => {
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
        }
    };
    db.conn
        .query_all_raw(Statement::from_string(db.backend, sql))
        .await
        .expect("list tables")
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).expect("table name"))
        .collect()
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    let row = db
        .conn
        .query_one_raw(Statement::from_string(db.backend, sql))
        .await
        .expect(sql)
        .expect("one row");
    row.try_get_by_index::<i64>(0).expect("count")
}

fn expected_tables() -> Vec<String> {
    let mut names: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
    names.push("seaql_migrations".to_owned());
    names.sort();
    names
}

#[tokio::test]
async fn up_creates_44_tables_with_seeds_reset_removes_them_up_rebuilds() {
    for db in common::all_backends().await {
        db.migrate(None).await;
        assert_eq!(
            table_names(&db).await,
            expected_tables(),
            "{:?}",
            db.backend
        );
        assert_eq!(TABLES.len(), 44);
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM admin_config_categories").await,
            19,
            "{:?}",
            db.backend
        );
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) FROM system_settings WHERE key = 'auto_approval_enabled' AND value = 'false'"
            )
            .await,
            1
        );

        Migrator::reset(&db.conn).await.expect("reset");
        let left = table_names(&db).await;
        assert!(
            left.iter().all(|t| t == "seaql_migrations"),
            "{:?}: reset left {left:?}",
            db.backend
        );
        if db.backend == DbBackend::Postgres {
            assert_eq!(
                count(&db, "SELECT COUNT(*) FROM pg_type WHERE typtype = 'e'").await,
                0,
                "reset leaves no enum types behind"
            );
        }

        db.migrate(None).await;
        assert_eq!(
            table_names(&db).await,
            expected_tables(),
            "{:?}",
            db.backend
        );
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM admin_config_categories").await,
            19
        );
    }
}

#[tokio::test]
async fn every_migration_down_undoes_its_up() {
    for db in common::all_backends().await {
        let total = Migrator::migrations().len() as u32;
        assert_eq!(total, 23);
        for step in 1..=total {
            db.migrate(Some(1)).await;
            let after_up = table_names(&db).await;
            Migrator::down(&db.conn, Some(1))
                .await
                .unwrap_or_else(|err| panic!("{:?}: down of step {step}: {err}", db.backend));
            Migrator::up(&db.conn, Some(1))
                .await
                .unwrap_or_else(|err| panic!("{:?}: up again of step {step}: {err}", db.backend));
            assert_eq!(
                table_names(&db).await,
                after_up,
                "{:?}: step {step} up/down/up",
                db.backend
            );
        }
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM admin_config_categories").await,
            19
        );
        assert_eq!(
            Migrator::get_pending_migrations(&db.conn)
                .await
                .expect("pending")
                .len(),
            0
        );
    }
}
