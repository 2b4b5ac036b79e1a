//! One repository per aggregate. Each borrows a connection (the pool or a
//! transaction) and holds only queries: validation, cursors and error
//! mapping come from their own modules.

pub mod users;

use sea_orm::ConnectionTrait;

use crate::pagination::CursorCodec;

/// What every repository borrows: a connection and the cursor codec.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a, C> {
    pub conn: &'a C,
    pub cursors: &'a CursorCodec,
}

impl<'a, C: ConnectionTrait> Ctx<'a, C> {
    pub fn new(conn: &'a C, cursors: &'a CursorCodec) -> Self {
        Self { conn, cursors }
    }
}
