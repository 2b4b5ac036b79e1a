//! Tenant scoping lives in one place: no repository filters or sets a
//! tenant column by hand; every statement on a tenant-owned table goes
//! through the scope's handle (`src/scope.rs`).

use std::path::{Path, PathBuf};

/// Spellings of a hand-written tenant filter or assignment.
const HAND_SCOPING: [&str; 6] = [
    "TenantId.eq(",
    "TenantId.ne(",
    "TenantId.is_in(",
    "TenantId.is_null(",
    "tenant_id: Set(",
    "TenantId, Expr::",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The lines of `text` that scope by hand, with their numbers.
fn hand_scoping(text: &str) -> Vec<(usize, String)> {
    // Joined lines, so a filter split over lines by rustfmt is seen too.
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let joined = format!(
            "{}{}",
            line.trim(),
            lines.get(i + 1).map_or("", |next| next.trim())
        )
        .replace(' ', "");
        if HAND_SCOPING
            .iter()
            .any(|pattern| joined.contains(&pattern.replace(' ', "")))
        {
            found.push((i + 1, line.trim().to_owned()));
        }
    }
    found
}

#[test]
fn no_repository_scopes_a_tenant_by_hand() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/repositories");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() >= 10, "found {} repository files", files.len());
    let mut offenders = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (line, code) in hand_scoping(&text) {
            offenders.push(format!("{}:{line}: {code}", file.display()));
        }
    }
    assert!(
        offenders.is_empty(),
        "scope tenant-owned tables through `Scoped` (src/scope.rs), not by hand:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_check_catches_the_spellings_it_names() {
    for code in [
        ".filter(tokens::Column::TenantId.eq(self.tenant.as_uuid()))",
        ".filter(\n    tokens::Column::TenantId\n.eq(tenant))",
        "tenant_id: Set(self.tenant.as_uuid()),",
        ".col_expr(tokens::Column::TenantId, Expr::value(other))",
        "Condition::all().add(members::Column::TenantId.is_in([a, b]))",
    ] {
        assert!(!hand_scoping(code).is_empty(), "missed: {code}");
    }
    for code in [
        "OnConflict::columns([tokens::Column::UserId, tokens::Column::TenantId])",
        ".order_by_asc(tokens::Column::TenantId)",
        "self.scope.find::<tokens::Entity>()",
    ] {
        assert!(hand_scoping(code).is_empty(), "false alarm: {code}");
    }
}
