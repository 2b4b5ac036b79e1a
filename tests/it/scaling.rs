//! `docs/SCALING.md` against the migrated schema: every table placed once,
//! each placement consistent with the table's tenant column and foreign
//! keys, and the list of schema changes a tenant-sharded deployment
//! (Citus) would need exactly the one the schema implies.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::common;

/// What the document says of each table: `(placement, parent)`.
fn placements(doc: &str) -> BTreeMap<String, (String, Option<String>)> {
    let mut placed = BTreeMap::new();
    let section = doc
        .split_once("<!-- placements -->")
        .expect("the placements table")
        .1
        .split_once("<!-- /placements -->")
        .expect("the end of the placements table")
        .0;
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let table = cells[1].trim_matches('`').to_owned();
        let placement = cells[2].trim_matches('`');
        let (placement, parent) = match placement.split_once(" of ") {
            Some((p, parent)) => (p.to_owned(), Some(parent.trim_matches('`').to_owned())),
            None => (placement.to_owned(), None),
        };
        assert!(
            placed.insert(table.clone(), (placement, parent)).is_none(),
            "{table} is placed twice"
        );
    }
    placed
}

/// The change list of the document, one change per line.
fn changes(doc: &str) -> BTreeSet<String> {
    doc.split_once("```changes")
        .expect("the changes block")
        .1
        .split_once("```")
        .expect("the end of the changes block")
        .0
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

struct Table {
    tenant: Option<bool>, // Some(nullable)
    primary_key: Vec<String>,
    unique: Vec<(String, Vec<String>)>,
    references: Vec<(String, String)>, // (parent table, column)
}

async fn text_rows(conn: &DatabaseConnection, sql: String) -> Vec<Vec<String>> {
    let rows = conn
        .query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .unwrap();
    rows.iter()
        .map(|row| {
            (0..)
                .map_while(|i| row.try_get_by_index::<Option<String>>(i).ok())
                .map(Option::unwrap_or_default)
                .collect()
        })
        .collect()
}

/// Every table of the migrated schema (SQLite's catalog).
async fn schema(conn: &DatabaseConnection) -> BTreeMap<String, Table> {
    let mut tables = BTreeMap::new();
    let names = text_rows(
        conn,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name <> 'seaql_migrations'"
            .to_owned(),
    )
    .await;
    for name in names.into_iter().map(|r| r[0].clone()) {
        let columns = text_rows(
            conn,
            format!(
                "SELECT name, CAST(\"notnull\" AS TEXT), CAST(pk AS TEXT) \
                 FROM pragma_table_info('{name}')"
            ),
        )
        .await;
        let tenant = columns
            .iter()
            .find(|c| c[0] == "tenant_id")
            .map(|c| c[1] == "0");
        let mut primary_key: Vec<(String, String)> = columns
            .iter()
            .filter(|c| c[2] != "0")
            .map(|c| (c[2].clone(), c[0].clone()))
            .collect();
        primary_key.sort();
        let mut unique = Vec::new();
        for index in text_rows(
            conn,
            format!(
                "SELECT name FROM pragma_index_list('{name}') WHERE \"unique\" AND origin <> 'pk'"
            ),
        )
        .await
        {
            let columns = text_rows(
                conn,
                format!("SELECT name FROM pragma_index_info('{}')", index[0]),
            )
            .await;
            unique.push((
                index[0].clone(),
                columns.into_iter().map(|c| c[0].clone()).collect(),
            ));
        }
        let references = text_rows(
            conn,
            format!("SELECT \"table\", \"from\" FROM pragma_foreign_key_list('{name}')"),
        )
        .await
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
        tables.insert(
            name,
            Table {
                tenant,
                primary_key: primary_key.into_iter().map(|(_, c)| c).collect(),
                unique,
                references,
            },
        );
    }
    tables
}

const SHARDED: [&str; 3] = ["distributed", "child", "sentinel"];

#[tokio::test]
async fn the_scaling_plan_matches_the_schema() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/SCALING.md")).unwrap();
    let placed = placements(&doc);
    let t = common::sqlite().await;
    let tables = schema(t.db.unscoped_connection()).await;

    let named: BTreeSet<&String> = placed.keys().collect();
    let present: BTreeSet<&String> = tables.keys().collect();
    assert_eq!(
        named, present,
        "SCALING.md must place every table, and only those"
    );

    let sharded = |table: &str| SHARDED.contains(&placed[table].0.as_str());
    let mut expected = BTreeSet::new();
    for (name, table) in &tables {
        let (placement, parent) = &placed[name];
        match placement.as_str() {
            // A tenant column that is never NULL: the distribution column.
            "distributed" => assert_eq!(table.tenant, Some(false), "{name}"),
            // No tenant column: it must be added, from the parent it hangs off.
            "child" => {
                let parent = parent.as_deref().expect("a child names its parent");
                assert_eq!(table.tenant, None, "{name}");
                assert!(
                    table.references.iter().any(|(p, _)| p == parent),
                    "{name} does not reference {parent}"
                );
                assert_eq!(placed[parent].0, "distributed", "{name}'s parent {parent}");
                expected.insert(format!("add-tenant {name} from {parent}"));
            }
            // Global rows (NULL tenant) go to a platform tenant first.
            "sentinel" => {
                assert_eq!(table.tenant, Some(true), "{name}");
                expected.insert(format!("not-null {name}"));
            }
            // Replicated to every node, or kept on the coordinator: no
            // tenant to shard by, and no reference to a sharded table.
            "reference" | "local" => {
                assert_ne!(table.tenant, Some(false), "{name} has an owner tenant");
                for (parent, column) in &table.references {
                    assert!(
                        !sharded(parent),
                        "{name}.{column} references the sharded {parent}: Citus refuses it"
                    );
                }
            }
            other => panic!("{name}: unknown placement {other:?}"),
        }
        if !sharded(name) {
            continue;
        }
        // Keys of a sharded table must contain the distribution column.
        if !table.primary_key.iter().any(|c| c == "tenant_id") {
            expected.insert(format!(
                "primary-key {name} ({})",
                table.primary_key.join(", ")
            ));
        }
        for (index, columns) in &table.unique {
            if !columns.iter().any(|c| c == "tenant_id") {
                expected.insert(format!("unique {name} {index} ({})", columns.join(", ")));
            }
        }
        for (parent, column) in &table.references {
            if sharded(parent) && column != "tenant_id" {
                expected.insert(format!("foreign-key {name}.{column} -> {parent}"));
            }
            // A sharded table may reference a reference table or one
            // sharded with it, never a table kept on the coordinator.
            assert_ne!(
                placed[parent].0, "local",
                "{name}.{column} references {parent}, kept on the coordinator: Citus refuses it"
            );
        }
    }
    let listed = changes(&doc);
    let missing: Vec<&String> = expected.difference(&listed).collect();
    let stale: Vec<&String> = listed.difference(&expected).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "the changes block of SCALING.md is out of date.\nmissing: {missing:#?}\nno longer needed: {stale:#?}\nthe whole block:\n{}",
        expected.iter().cloned().collect::<Vec<_>>().join("\n")
    );
}
