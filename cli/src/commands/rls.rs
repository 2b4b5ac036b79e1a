//! `pierre-db rls enable|disable|status`: PostgreSQL's row-level security
//! on every tenant-owned table (see the library's `rls` module).

use pierre_db::rls::{self, RlsStatus};
use serde_json::json;

use crate::args::{Global, Rls};
use crate::connect::{Open, single_connection};
use crate::exit::{Code, Failure, Result};
use crate::output::Output;

pub async fn run(global: &Global, out: &Output, action: &Rls) -> Result<Code> {
    let url = global.url()?;
    if !url.starts_with("postgres") {
        return Err(Failure::failed(
            "row-level security is PostgreSQL's; SQLite has none (the library's tenant \
             scope still applies)",
        ));
    }
    // No master key: policies are DDL, and the status reads the catalog.
    let conn = single_connection(&url, Open::EXISTING).await?;
    let outcome = match action {
        Rls::Enable => rls::enable(&conn).await,
        Rls::Disable => rls::disable(&conn).await,
        Rls::Status => rls::status(&conn).await,
    };
    conn.close().await.ok();
    let status = outcome?;
    let partly = is_partly_on(&status);
    report(out, &status, partly);
    Ok(if partly { Code::Failed } else { Code::Ok })
}

/// Some of the wall is up, not all of it: a table would be left open.
fn is_partly_on(status: &RlsStatus) -> bool {
    !status.enabled
        && status
            .tables
            .iter()
            .any(|t| t.enabled || t.forced || t.policies > 0)
}

fn report(out: &Output, status: &RlsStatus, partly: bool) {
    let up = status.tables.iter().filter(|t| t.is_up()).count();
    out.line(format!(
        "row-level security is {}: {up} of {} tenant-owned tables walled",
        if status.enabled {
            "on"
        } else if partly {
            "PARTLY on"
        } else {
            "off"
        },
        status.tables.len()
    ));
    for table in status.tables.iter().filter(|t| partly && !t.is_up()) {
        out.line(format!(
            "  {}: enabled {}, forced {}, {} policies (run `pierre-db rls enable`)",
            table.table, table.enabled, table.forced, table.policies
        ));
    }
    if status.role_bypasses {
        out.line(
            "this role is a superuser or has BYPASSRLS: the wall does not apply to it; \
             the application must connect as a role without either",
        );
    }
    out.document(json!({
        "ok": !partly,
        "enabled": status.enabled,
        "role_bypasses": status.role_bypasses,
        "tables": status.tables.iter().map(|t| json!({
            "table": t.table,
            "enabled": t.enabled,
            "forced": t.forced,
            "policies": t.policies,
            "up": t.is_up(),
        })).collect::<Vec<_>>(),
    }));
}
