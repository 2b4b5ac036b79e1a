//! Substring search with SQL `LIKE`, with the caller's text taken
//! literally: `%`, `_` and the escape character in it match only
//! themselves (the original passed them through as wildcards).

use sea_orm::DbBackend;
use sea_orm::sea_query::{Expr, ExprTrait, Func, IntoColumnRef, LikeExpr, SimpleExpr};

/// The escape character of every pattern built here. Not `\`, whose
/// meaning in a string literal differs between backends and settings.
const ESCAPE: char = '!';

/// `needle` as a `LIKE` pattern that matches it anywhere, literally.
fn contains(needle: &str) -> LikeExpr {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | ESCAPE) {
            pattern.push(ESCAPE);
        }
        pattern.push(c);
    }
    pattern.push('%');
    LikeExpr::new(pattern).escape(ESCAPE)
}

/// Folds case the way the backend's `LOWER` does: SQLite's folds ASCII
/// letters only, PostgreSQL's every letter. Folding the needle the same
/// way keeps a search from matching on one backend and not the other for
/// the reason of case alone.
fn fold(backend: DbBackend, text: &str) -> String {
    match backend {
        DbBackend::Sqlite => text.to_ascii_lowercase(),
        _ => text.to_lowercase(),
    }
}

/// `LOWER(column) LIKE '%needle%'`, case-insensitive (see [`fold`]).
pub(crate) fn text_contains(
    backend: DbBackend,
    column: impl IntoColumnRef,
    needle: &str,
) -> SimpleExpr {
    Expr::expr(Func::lower(Expr::col(column))).like(contains(&fold(backend, needle)))
}

/// Whether a JSON list of strings holds an entry containing `needle`:
/// the list's JSON text is searched for the needle as JSON writes it, so
/// a `"` in the needle matches only a quote inside an entry.
pub(crate) fn json_strings_contain(
    backend: DbBackend,
    column: impl IntoColumnRef,
    needle: &str,
) -> SimpleExpr {
    let folded = fold(backend, needle);
    let quoted = serde_json::to_string(&folded).unwrap_or_default();
    let inner = quoted
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(&quoted);
    let text = Expr::col(column).cast_as("text");
    Expr::expr(Func::lower(text)).like(contains(inner))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sea_query::{Query, SqliteQueryBuilder};

    fn sql(expr: SimpleExpr) -> String {
        Query::select()
            .expr(expr)
            .to_owned()
            .to_string(SqliteQueryBuilder)
    }

    #[test]
    fn wildcards_and_the_escape_are_literal() {
        let built = sql(text_contains(DbBackend::Sqlite, "name", "50%_off!"));
        assert!(built.contains(r"'%50!%!_off!!%' ESCAPE '!'"), "{built}");
    }

    #[test]
    fn case_folds_like_the_backend() {
        assert_eq!(fold(DbBackend::Sqlite, "ÉtÉ Run"), "ÉtÉ run");
        assert_eq!(fold(DbBackend::Postgres, "ÉtÉ Run"), "été run");
    }

    #[test]
    fn json_needles_are_written_as_json_writes_them() {
        let built = sql(json_strings_contain(DbBackend::Sqlite, "tags", "a\"b"));
        assert!(built.contains(r#"'%a\"b%'"#), "{built}");
    }
}
