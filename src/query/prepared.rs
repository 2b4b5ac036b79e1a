//! SQL text built once by the typed query builder, then reused by hot paths.
//!
//! Building a SeaORM select costs more than SQLite takes to run a point
//! lookup: measured with callgrind, `Select::new` plus `select_only().
//! columns(..)` and the build were ~84,000 of the ~131,000 instructions of an
//! API key lookup, against ~48,000 for the whole lookup in raw sqlx. A hot
//! path keeps its statement's text, one per backend, and binds fresh values.
//!
//! The query is still written with the builder, at the call site, and the
//! caller lists the values it binds in the builder's order. Debug builds
//! (every test) build the query on every call and check that list against
//! the builder's, so a value out of order fails the first test that runs
//! the path; release builds build it once. Each slot is declared with
//! [`prepared!`] (or `keyset_sql!`), which names it by where it is
//! declared, and debug builds note each check by that name on the calling
//! thread: the integration suite's census of prepared statements runs every
//! declared one and proves that each was checked, on each backend.
//!
//! A prepared point read runs with `.one()` on the raw selector: it adds no
//! `LIMIT`, and the driver stops at the first row, one hand-off to SQLite's
//! worker thread fewer than `.all()`. A write with `RETURNING` on the pool
//! runs with `.all()`: it waits for the statement to finish, so a failed
//! commit of its implicit transaction is an error (after a first row, sqlx
//! drops the error of the statement's reset). `Ctx::returning_row` holds
//! that rule.

use std::sync::OnceLock;

use sea_orm::{ActiveModelTrait, DbBackend, EntityTrait, Insert, Iterable, Statement, Value};

use super::exec::{Allowed, Checked, Unowned};

/// One statement's SQL per backend, built on first use.
pub(crate) struct Prepared {
    sql: [OnceLock<String>; 3],
    /// Where the slot is declared (`file:line`), and which of the site's
    /// statements it is: the name its checks are noted under.
    #[cfg_attr(
        not(debug_assertions),
        expect(dead_code, reason = "only debug builds check and note")
    )]
    site: &'static str,
    #[cfg_attr(
        not(debug_assertions),
        expect(dead_code, reason = "only debug builds check and note")
    )]
    part: &'static str,
}

/// An empty [`Prepared`] slot for a `static`, named by where it is declared.
macro_rules! prepared {
    () => {
        $crate::query::Prepared::at(concat!(file!(), ":", line!()), "")
    };
}
pub(crate) use prepared;

impl Prepared {
    /// An empty slot declared at `site`; `part` tells the statements of one
    /// site apart. Declare with [`prepared!`].
    pub const fn at(site: &'static str, part: &'static str) -> Self {
        Self {
            sql: [OnceLock::new(), OnceLock::new(), OnceLock::new()],
            site,
            part,
        }
    }

    /// The statement `build` writes, with `values` bound in place of the
    /// ones it was built with. `values` must be the builder's values, in its
    /// order (checked in debug builds). The builder is an unowned entity's
    /// or a scope's (see [`Allowed`]).
    pub fn statement<Q: Allowed>(
        &self,
        backend: DbBackend,
        values: Vec<Value>,
        build: impl Fn() -> Q,
    ) -> Checked<Statement> {
        Checked::new(self.text(backend, values, || {
            build().checked().build(backend).into_inner()
        }))
    }

    /// [`Self::statement`] for a statement `build` writes out itself with
    /// sea-query (a `RETURNING` clause, say), over the [`Unowned`] entity
    /// it declares: sea-query's statements carry no entity type, so
    /// the declaration is what reviews check.
    pub fn built<E: Unowned>(
        &self,
        _entity: E,
        backend: DbBackend,
        values: Vec<Value>,
        build: impl Fn() -> Statement,
    ) -> Checked<Statement> {
        Checked::new(self.text(backend, values, build))
    }

    /// The statement `build` writes, unchecked: it runs only once a scope
    /// handle has checked it (`AllTenants::statement`).
    pub fn text(
        &self,
        backend: DbBackend,
        values: Vec<Value>,
        build: impl Fn() -> Statement,
    ) -> Statement {
        let slot = match backend {
            DbBackend::Sqlite => &self.sql[0],
            DbBackend::Postgres => &self.sql[1],
            _ => &self.sql[2],
        };
        #[cfg(debug_assertions)]
        {
            let built = build();
            let built_values: Vec<_> = built.values.map(|v| v.0).unwrap_or_default();
            assert_eq!(
                built_values.into_iter().map(as_bound).collect::<Vec<_>>(),
                values.iter().cloned().map(as_bound).collect::<Vec<_>>(),
                "values out of the builder's order for: {}",
                built.sql
            );
            checks::note(self.site, self.part, backend);
        }
        let sql = slot.get_or_init(|| build().sql);
        Statement::from_sql_and_values(backend, sql.as_str(), values)
    }

    /// [`Self::statement`] for `INSERT` of `row` of an [`Unowned`] entity,
    /// finished by `build` (an `ON CONFLICT`, which binds no value). The
    /// values are the row's set ones in column order, as the builder binds
    /// them.
    pub fn insert<A>(
        &self,
        backend: DbBackend,
        row: A,
        build: impl Fn(Insert<A>) -> Insert<A>,
    ) -> Checked<Statement>
    where
        A: ActiveModelTrait + Clone,
        A::Entity: Unowned,
    {
        self.insert_checked(backend, row, |insert| {
            Checked::new(build(insert.into_inner()))
        })
    }

    /// [`Self::insert`] of a row a scope has put in its tenant.
    pub(in crate::query) fn insert_checked<A>(
        &self,
        backend: DbBackend,
        row: A,
        build: impl Fn(Checked<Insert<A>>) -> Checked<Insert<A>>,
    ) -> Checked<Statement>
    where
        A: ActiveModelTrait + Clone,
    {
        let values = <<A::Entity as EntityTrait>::Column as Iterable>::iter()
            .filter_map(|column| row.get(column).into_value())
            .collect();
        self.statement(backend, values, || {
            build(Checked::new(<A::Entity as EntityTrait>::insert(
                row.clone(),
            )))
        })
    }
}

/// Which prepared statements checked their values on this thread (debug
/// builds only: release builds do not check).
#[cfg(debug_assertions)]
pub mod checks {
    use std::cell::RefCell;
    use std::collections::BTreeSet;

    use sea_orm::DbBackend;

    thread_local! {
        static CHECKED: RefCell<BTreeSet<String>> = const { RefCell::new(BTreeSet::new()) };
    }

    /// Notes that the statement `site` + `part` was checked on `backend`.
    pub(super) fn note(site: &str, part: &str, backend: DbBackend) {
        CHECKED.with(|checked| checked.borrow_mut().insert(name(site, part, backend)));
    }

    /// The statements checked on this thread so far, each as
    /// `file:line[ part] Backend`.
    #[cfg(feature = "internals")]
    pub fn on_this_thread() -> BTreeSet<String> {
        CHECKED.with(|checked| checked.borrow().clone())
    }

    /// How a check is named.
    pub fn name(site: &str, part: &str, backend: DbBackend) -> String {
        format!("{site}{part} {backend:?}")
    }
}

/// `value` as the driver binds it: PostgreSQL's builder marks the value of
/// an enum column as `Enum` (the cast is in the SQL text), and the driver
/// binds it as the text an `ActiveEnum` converts to.
#[cfg(debug_assertions)]
fn as_bound(value: Value) -> Value {
    match value {
        Value::Enum(sea_orm::sea_query::OptionEnum::Some(e)) => Value::from(e.value.into_owned()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    use super::*;

    static BY_EMAIL: Prepared = prepared!();

    #[test]
    fn reuses_the_text_with_new_values() {
        let find = |email: &str| {
            let email = email.to_owned();
            BY_EMAIL.statement(DbBackend::Sqlite, vec![email.clone().into()], move || {
                entity::users::Entity::find().filter(entity::users::Column::Email.eq(&email))
            })
        };
        let (a, b) = (find("a@x.org").into_inner(), find("b@x.org").into_inner());
        assert_eq!(a.sql, b.sql);
        assert_eq!(b.values.unwrap().0, vec![Value::from("b@x.org")]);
    }

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "values out of the builder's order")]
    fn values_out_of_order_fail_in_debug_builds() {
        static TWO: Prepared = prepared!();
        TWO.statement(
            DbBackend::Sqlite,
            vec![Value::from("b"), Value::from("a")],
            || {
                entity::users::Entity::find()
                    .filter(entity::users::Column::Email.eq("a"))
                    .filter(entity::users::Column::DisplayName.eq("b"))
            },
        );
    }
}
