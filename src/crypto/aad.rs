//! The additional authenticated data (AAD) that binds a ciphertext to its row.
//!
//! A context names the table, the column, the tenant, the user and the row's
//! other key parts (a provider, a kid, a secret type). Its encoding is
//! canonical and unambiguous:
//!
//! ```text
//! "pierre-db/aad/v1"
//! u32 len ‖ table
//! u32 len ‖ column
//! u8 tag ‖ [16-byte tenant id]     tag 0 = none, 1 = present
//! u8 tag ‖ [16-byte user id]
//! u32 count ‖ (u32 len ‖ part)*    other key parts, in order
//! ```
//!
//! Every variable field is length-prefixed, so no two different contexts
//! share an encoding: tenant `"a|b"` with user `"c"` is not tenant `"a"`
//! with user `"b|c"`, as it was with the original's `a|b|c` join. Because the
//! column is part of it, an access token cannot be moved into the
//! refresh-token column of the same row.

use uuid::Uuid;

const DOMAIN: &[u8] = b"pierre-db/aad/v1";

/// Where an encrypted value lives. Build one per value; sealing and
/// opening both require it (two columns of one row never share one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    table: &'static str,
    column: &'static str,
    tenant: Option<Uuid>,
    user: Option<Uuid>,
    parts: Vec<String>,
}

impl Context {
    /// A context for `table.column`.
    pub fn new(table: &'static str, column: &'static str) -> Self {
        Self {
            table,
            column,
            tenant: None,
            user: None,
            parts: Vec::new(),
        }
    }

    /// Binds the tenant.
    pub fn tenant(mut self, tenant: impl Into<Uuid>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Binds the user.
    pub fn user(mut self, user: impl Into<Uuid>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Binds one more key part of the row (a provider, a kid, …).
    pub fn part(mut self, part: impl Into<String>) -> Self {
        self.parts.push(part.into());
        self
    }

    /// The table.
    #[cfg(feature = "internals")]
    pub fn table(&self) -> &'static str {
        self.table
    }

    /// The column.
    #[cfg(feature = "internals")]
    pub fn column(&self) -> &'static str {
        self.column
    }

    /// The canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.parts.iter().map(String::len).sum::<usize>());
        out.extend_from_slice(DOMAIN);
        put_bytes(&mut out, self.table.as_bytes());
        put_bytes(&mut out, self.column.as_bytes());
        put_id(&mut out, self.tenant);
        put_id(&mut out, self.user);
        out.extend_from_slice(&(self.parts.len() as u32).to_be_bytes());
        for part in &self.parts {
            put_bytes(&mut out, part.as_bytes());
        }
        out
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn put_id(out: &mut Vec<u8>, id: Option<Uuid>) {
    match id {
        Some(id) => {
            out.push(1);
            out.extend_from_slice(id.as_bytes());
        }
        None => out.push(0),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_columns_of_one_row_have_different_contexts() {
        let tenant = uuid::Uuid::new_v4();
        let user = uuid::Uuid::new_v4();
        let access = super::Context::new("user_oauth_tokens", "access_token")
            .tenant(tenant)
            .user(user)
            .part("strava");
        let refresh = super::Context::new("user_oauth_tokens", "refresh_token")
            .tenant(tenant)
            .user(user)
            .part("strava");
        assert_ne!(access.encode(), refresh.encode());
    }

    use super::*;

    #[test]
    fn delimiters_inside_parts_do_not_collide() {
        let a = Context::new("t", "c").part("a|b").part("c");
        let b = Context::new("t", "c").part("a").part("b|c");
        assert_ne!(a.encode(), b.encode());
        let c = Context::new("t", "c").part("ab");
        let d = Context::new("t", "c").part("a").part("b");
        assert_ne!(c.encode(), d.encode());
    }

    #[test]
    fn absent_and_present_ids_differ() {
        let id = Uuid::nil();
        assert_ne!(
            Context::new("t", "c").tenant(id).encode(),
            Context::new("t", "c").user(id).encode()
        );
        assert_ne!(
            Context::new("t", "c").encode(),
            Context::new("t", "c").tenant(id).encode()
        );
    }
}
