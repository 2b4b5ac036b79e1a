//! Tenant scoping holds by type (see `src/query/exec.rs` and the
//! compile-fail cases `*_inside_a_repository.rs`): a statement on a
//! tenant-owned table runs only if a scope built it. What types cannot see
//! is what sits *inside* an allowed statement: a join, a hand-written
//! sea-query sub-select, a statement written by hand that declares its
//! entity. Those are few, and each was reviewed for the table it names;
//! this census fails when one is added or moved, so that the next one is
//! reviewed too (add it to `REVIEWED` with what it reaches).
//!
//! It replaces a text search for hand-written tenant filters, which the
//! types made unnecessary: a repository can no longer run a statement on a
//! tenant-owned table without a scope, filtered by hand or not, and a
//! checked update that sets the tenant column fails in every debug build.
//! Replacing the statement inside a `Checked` through a builder trait's
//! `query()` would be deliberate; the census counts it too.

use std::collections::BTreeMap;
use std::path::Path;

/// Constructs whose tables the executor's types cannot check.
const UNCHECKED: [&str; 16] = [
    ".join(",
    "inner_join(",
    "left_join(",
    "find_also_related(",
    "find_with_related(",
    ".from(",
    "into_query()",
    "in_subquery(",
    "exists(",
    ".built(",
    ".text(",
    "Checked::declared(",
    "rows.statement(",
    "::query(&mut",
    // A scope for a tenant of the repository's choosing (the public
    // handles make them; a transaction keeps its handle's tenant).
    "Scoped::new(",
    // The global (tenant-less) rows: a tenant's repository must not write
    // rows every tenant sees.
    "GlobalRows::new(",
];

/// Each file's count of those constructs, and what they reach.
const REVIEWED: [(&str, usize, &str); 13] = [
    (
        "a2a/clients.rs",
        5,
        "a2a_client_api_keys joined to api_keys, and sub-selects of them (no tenant)",
    ),
    ("a2a/tasks.rs", 3, "a2a_clients of the owner (no tenant)"),
    ("a2a/usage.rs", 3, "a2a_clients, a2a_usage (no tenant)"),
    (
        "content/chat/mod.rs",
        1,
        "chat_messages of the scoped conversation",
    ),
    ("credentials/api_keys/mod.rs", 2, "users (no tenant)"),
    ("identity/tenant_members.rs", 2, "tenants (no tenant)"),
    (
        "identity/users.rs",
        1,
        "the platform's audit events (no tenant), where user administration is recorded",
    ),
    (
        "mod.rs",
        6,
        "the global admin configuration and audit events: the accessors that are their public handles (on the pool, in a transaction, and on the read replicas)",
    ),
    (
        "identity/tenants.rs",
        1,
        "tenant_users of one user across tenants: the tenants a user belongs to",
    ),
    (
        "oauth2_server/exchange.rs",
        6,
        "codes, tokens and states of every tenant, by hash (AllTenants); a state stored before it has a tenant (GlobalRows)",
    ),
    ("platform/mcp_tokens.rs", 2, "user_mcp_tokens (no tenant)"),
    ("platform/rsa_keys.rs", 2, "rsa_keypairs (no tenant)"),
    (
        "usage/stats.rs",
        13,
        "api keys and usage tables (no tenant); tenant_users through the scope",
    ),
];

/// How many unchecked constructs `text` holds, outside comments and
/// string literals' `join(", ")`-style uses on text.
fn unchecked(text: &str) -> usize {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("//"))
        .map(|line| {
            UNCHECKED
                .iter()
                .filter(|pattern| line.contains(*pattern))
                .filter(|_| !line.contains(".join(\"") && !line.contains("join(\", \")"))
                .count()
        })
        .sum()
}

#[test]
fn what_types_cannot_check_was_reviewed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/repositories");
    let files = crate::common::rust_files(&root);
    assert!(files.len() >= 10, "found {} repository files", files.len());
    let mut found = BTreeMap::new();
    for file in &files {
        let n = unchecked(&std::fs::read_to_string(file).unwrap());
        if n > 0 {
            let name = file.strip_prefix(&root).unwrap().display().to_string();
            found.insert(name, n);
        }
    }
    let reviewed: BTreeMap<String, usize> = REVIEWED
        .iter()
        .map(|(file, n, _)| (file.to_string(), *n))
        .collect();
    assert_eq!(
        found, reviewed,
        "a join, sub-select or hand-written statement was added or moved: check which \
         tables it reaches and update REVIEWED"
    );
}

#[test]
fn the_census_sees_the_constructs_it_names() {
    for code in [
        ".filter(tasks::Column::ClientId.in_subquery(owned_by(owner)))",
        "let mut q = QueryFilter::query(&mut checked);",
        ".join(JoinType::InnerJoin, tenants::Relation::TenantUsers.def())",
        "Query::select().column(key).from(tokens::Entity)",
        "let statement = SLOT.built(users::Entity, backend, values, || {",
        ".inner_join(",
        "let other = Scoped::new(ctx, tenant);",
    ] {
        assert_eq!(unchecked(code), 1, "missed: {code}");
    }
    for code in [
        "// a comment about .join( things",
        "format!(\"one of: {}\", KNOWN.join(\", \"))",
        "self.scope.find::<tokens::Entity>()",
    ] {
        assert_eq!(unchecked(code), 0, "false alarm: {code}");
    }
}
