//! `pierre-db rls`: the wall put up, reported (by `rls status` and
//! `doctor`) and taken down on PostgreSQL; refused on SQLite.

use sea_orm::ConnectionTrait;
use serde_json::Value;

use crate::common::{Fixture, walled_postgres_database};

fn tables_up(status: &Value) -> usize {
    status["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["up"] == true)
        .count()
}

#[tokio::test]
async fn rls_is_put_up_reported_and_taken_down() {
    let sqlite = Fixture::new();
    sqlite.run(&["migrate", "up"]).ok();
    let refused = sqlite.run(&["rls", "enable"]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("PostgreSQL"), "{refused:?}");

    let Some(url) = walled_postgres_database().await else {
        return;
    };
    let mut fx = Fixture::new();
    fx.url = url;
    fx.run(&["migrate", "up"]).ok();

    let (code, off) = fx.json(&["rls", "status"]);
    assert_eq!(code, 0, "{off}");
    assert_eq!(off["enabled"], false, "{off}");
    assert_eq!(off["role_bypasses"], false, "{off}");
    assert_eq!(tables_up(&off), 0);

    let (code, on) = fx.json(&["rls", "enable"]);
    assert_eq!(code, 0, "{on}");
    assert_eq!(on["enabled"], true, "{on}");
    let all = on["tables"].as_array().unwrap().len();
    assert!(all >= 15, "{on}");
    assert_eq!(tables_up(&on), all);

    let (code, doctor) = fx.json(&["doctor"]);
    let check = doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "row_security")
        .unwrap_or_else(|| panic!("no row_security check: {doctor}"))
        .clone();
    assert_eq!(check["status"], "ok", "{doctor}");
    assert!(
        check["detail"].as_str().unwrap().starts_with("on"),
        "{check}"
    );
    assert_eq!(code, 0, "{doctor}");

    // One table's policy dropped by hand: partly on is a failure, named.
    let owner = sea_orm::Database::connect(&fx.url).await.unwrap();
    owner
        .execute_unprepared("DROP POLICY pierre_wall ON recipes")
        .await
        .unwrap();
    owner.close().await.unwrap();
    let (code, partly) = fx.json(&["rls", "status"]);
    assert_eq!(code, 1, "{partly}");
    assert_eq!(partly["ok"], false, "{partly}");
    assert_eq!(tables_up(&partly), all - 1);
    let (code, doctor) = fx.json(&["doctor"]);
    assert_eq!(code, 1, "{doctor}");
    let check = doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "row_security")
        .unwrap()
        .clone();
    assert_eq!(check["status"], "fail", "{check}");
    assert!(
        check["detail"].as_str().unwrap().contains("recipes"),
        "{check}"
    );
    let (code, on) = fx.json(&["rls", "enable"]);
    assert_eq!(code, 0, "{on}");
    assert_eq!(tables_up(&on), all);

    let (code, down) = fx.json(&["rls", "disable"]);
    assert_eq!(code, 0, "{down}");
    assert_eq!(down["enabled"], false, "{down}");
    assert_eq!(tables_up(&down), 0);
    let (_, doctor) = fx.json(&["doctor"]);
    assert!(doctor.to_string().contains("off (optional"), "{doctor}");
}
