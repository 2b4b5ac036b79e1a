//! One cell of the original's database, judged against the column it will
//! fill: whether it converts the way adoption converts it, and if not, why.
//! SQLite types cells per row, so each cell comes with its storage class.

use chrono::{DateTime, NaiveDateTime, Utc};
use sea_orm::sea_query::{ColumnType, Enum, OptionEnum};
use sea_orm::{DbErr, QueryResult, Value};
use uuid::Uuid;

/// What a target column holds, as far as converting a legacy cell goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Uuid,
    Time,
    Bool,
    /// An integer within these bounds.
    Integer(i64, i64),
    /// A floating-point number (an integer converts too).
    Real,
    Json,
    /// One of these values, of the named enum type.
    Enum(String, Vec<String>),
    /// Text or bytes, taken as they are.
    Any,
}

impl Kind {
    pub(crate) fn of(column: &ColumnType) -> Self {
        match column {
            ColumnType::Uuid => Self::Uuid,
            ColumnType::TimestampWithTimeZone | ColumnType::Timestamp | ColumnType::DateTime => {
                Self::Time
            }
            ColumnType::Boolean => Self::Bool,
            ColumnType::TinyInteger => Self::Integer(i8::MIN.into(), i8::MAX.into()),
            ColumnType::SmallInteger => Self::Integer(i16::MIN.into(), i16::MAX.into()),
            ColumnType::Integer => Self::Integer(i32::MIN.into(), i32::MAX.into()),
            ColumnType::BigInteger => Self::Integer(i64::MIN, i64::MAX),
            ColumnType::TinyUnsigned => Self::Integer(0, u8::MAX.into()),
            ColumnType::SmallUnsigned => Self::Integer(0, u16::MAX.into()),
            ColumnType::Unsigned => Self::Integer(0, u32::MAX.into()),
            ColumnType::BigUnsigned => Self::Integer(0, i64::MAX),
            ColumnType::Float | ColumnType::Double | ColumnType::Decimal(_) => Self::Real,
            ColumnType::Json | ColumnType::JsonBinary => Self::Json,
            ColumnType::Enum { name, variants } => Self::Enum(
                name.to_string(),
                variants.iter().map(|v| v.to_string()).collect(),
            ),
            _ => Self::Any,
        }
    }

    /// A NULL of the type the entity's field takes.
    pub(crate) fn null(&self) -> Value {
        match self {
            Self::Uuid => None::<Uuid>.into(),
            Self::Time => None::<DateTime<chrono::FixedOffset>>.into(),
            Self::Bool => None::<bool>.into(),
            Self::Integer(_, max) if *max <= i64::from(i32::MAX) => None::<i32>.into(),
            Self::Integer(..) => None::<i64>.into(),
            Self::Real => None::<f64>.into(),
            Self::Json => None::<serde_json::Value>.into(),
            Self::Enum(name, _) => Value::Enum(OptionEnum::None(name.as_str().into())),
            Self::Any => None::<String>.into(),
        }
    }

    /// What the column takes, for a message.
    fn what(&self) -> &'static str {
        match self {
            Self::Uuid => "a UUID",
            Self::Time => "a time",
            Self::Bool => "a boolean (0 or 1)",
            Self::Integer(..) => "an integer",
            Self::Real => "a number",
            Self::Json => "JSON",
            Self::Enum(..) => "one of the column's values",
            Self::Any => "text",
        }
    }
}

/// A cell as read, in SQLite's storage class: SQLite types each cell on
/// its own, so one column can hold text in one row and a blob in the next.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Raw {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Raw {
    /// The SQL that reads `column` for [`Raw::read`]: its storage class
    /// and its value (two result columns). `typeof` is SQLite's own; the
    /// query builder has no name for it.
    pub(crate) fn select(column: &str) -> String {
        // Names come from the entities, never from input.
        format!("typeof(\"{column}\"), \"{column}\"")
    }

    /// The cell at result columns `at` and `at + 1` of a row read with
    /// [`Raw::select`].
    pub(crate) fn read(row: &QueryResult, at: usize) -> Result<Self, DbErr> {
        let class: String = row.try_get_by_index(at)?;
        Ok(match class.as_str() {
            "integer" => Self::Integer(row.try_get_by_index(at + 1)?),
            "real" => Self::Real(row.try_get_by_index(at + 1)?),
            "text" => Self::Text(row.try_get_by_index(at + 1)?),
            "blob" => Self::Blob(row.try_get_by_index(at + 1)?),
            _ => Self::Null,
        })
    }

    /// The cell as text where it has one (an id, a reference), for naming
    /// a row.
    pub(crate) fn shown(&self) -> Option<String> {
        match self {
            Self::Text(text) => Some(text.clone()),
            Self::Integer(n) => Some(n.to_string()),
            Self::Blob(bytes) => Uuid::from_slice(bytes).ok().map(|id| id.to_string()),
            _ => None,
        }
    }

    fn class(&self) -> &'static str {
        match self {
            Self::Null => "NULL",
            Self::Integer(_) => "integer",
            Self::Real(_) => "real",
            Self::Text(_) => "text",
            Self::Blob(_) => "blob",
        }
    }
}

/// A cell converted for its target column.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Converted {
    /// As it is, or by a conversion that loses nothing.
    Value(Value),
    /// An id in one of the original's prefixed forms (`a2a_client_<uuid>`,
    /// `admin_<hex>`, …), replaced by the UUID derived from it, here and
    /// in every reference to it.
    Mapped { old: String, new: Uuid },
    /// A NULL id (the original inserted some): the caller gives it one.
    NewId,
}

/// Converts `cell` for a column of `kind`. `is_id` marks the row's own id;
/// `comma_list` a JSON list the original stored comma-joined. An error
/// says why the cell does not convert (quoting the value only where it is
/// not a secret: ids, times, enum values, numbers).
pub(crate) fn convert(
    kind: &Kind,
    nullable: bool,
    is_id: bool,
    comma_list: bool,
    cell: &Raw,
) -> Result<Converted, String> {
    let value = |v: Value| Ok(Converted::Value(v));
    if *cell == Raw::Null {
        return match (nullable, is_id) {
            (true, _) => value(kind.null()),
            (false, true) => Ok(Converted::NewId),
            (false, false) => Err("NULL in a column that requires a value".into()),
        };
    }
    match (kind, cell) {
        (Kind::Uuid, Raw::Blob(bytes)) => match Uuid::from_slice(bytes) {
            Ok(id) => value(Some(id).into()),
            Err(_) => Err(format!("a {}-byte blob is not a UUID", bytes.len())),
        },
        (Kind::Uuid, Raw::Text(text)) => match Uuid::parse_str(text) {
            Ok(id) => value(Some(id).into()),
            Err(_) if prefixed_id(text) => Ok(Converted::Mapped {
                old: text.clone(),
                new: mapped_id(text),
            }),
            Err(_) => Err(format!(
                "{text:?} is not a UUID, nor an id form of the original's"
            )),
        },
        (Kind::Time, Raw::Text(text)) => value(Some(timestamp(text)?.fixed_offset()).into()),
        (Kind::Bool, Raw::Integer(n @ (0 | 1))) => value(Some(*n == 1).into()),
        (Kind::Bool, Raw::Integer(n)) => Err(format!("{n} is not a boolean (0 or 1)")),
        (Kind::Integer(min, max), Raw::Integer(n)) if (*min..=*max).contains(n) => {
            match i32::try_from(*n) {
                Ok(small) if *max <= i64::from(i32::MAX) => value(Some(small).into()),
                _ => value(Some(*n).into()),
            }
        }
        (Kind::Integer(min, max), Raw::Integer(n)) => Err(format!("{n} is outside {min}..={max}")),
        #[allow(
            clippy::cast_precision_loss,
            reason = "SQLite's REAL affinity converts the same way"
        )]
        (Kind::Real, Raw::Integer(n)) => value(Some(*n as f64).into()),
        (Kind::Real, Raw::Real(x)) => value(Some(*x).into()),
        (Kind::Json, Raw::Text(text)) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(json) => value(Some(json).into()),
            Err(_) if comma_list => value(Some(comma_joined(text)).into()),
            Err(_) => Err("not JSON".into()),
        },
        (Kind::Enum(name, values), Raw::Text(text)) if values.iter().any(|v| v == text) => {
            value(Value::Enum(OptionEnum::Some(Box::new(Enum {
                type_name: name.as_str().into(),
                value: text.clone().into(),
            }))))
        }
        (Kind::Enum(_, values), Raw::Text(text)) => {
            Err(format!("{text:?} is none of {}", values.join(", ")))
        }
        (Kind::Any, Raw::Text(text)) => value(Some(text.clone()).into()),
        // SQLite keeps what it is given: a number in a text column reads
        // back as the same digits.
        (Kind::Any, Raw::Integer(n)) => value(Some(n.to_string()).into()),
        (Kind::Any, Raw::Real(x)) => value(Some(x.to_string()).into()),
        _ => Err(format!("a {} is not {}", cell.class(), kind.what())),
    }
}

/// A comma-joined list as the JSON list it stands for.
fn comma_joined(text: &str) -> serde_json::Value {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| serde_json::Value::String(item.to_owned()))
        .collect()
}

/// The original's two time forms: RFC 3339 (any fraction, any offset) and
/// `YYYY-MM-DD HH:MM:SS` (SQLite's `CURRENT_TIMESTAMP`, UTC); within the
/// years 0000–9999 that stored times sort in.
pub(crate) fn timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    let at = DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").map(|at| at.and_utc())
        })
        .map_err(|_| format!("{text:?} is not a time (RFC 3339 or YYYY-MM-DD HH:MM:SS)"))?;
    crate::time::checked_utc("time", at)
        .map_err(|_| format!("{text:?} is outside the years 0000-9999"))
}

/// The UUID that replaces the original's prefixed id `old`: derived from
/// it (SHA-256, as a version 8 UUID), so the same id maps to the same UUID
/// wherever it appears (its row and every reference to it) and in every
/// run (a resumed adoption agrees with the first).
pub(crate) fn mapped_id(old: &str) -> Uuid {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("pierre-db adopt id\0{old}").as_bytes(),
    );
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// Whether `text` is an id in one of the original's prefixed forms.
fn prefixed_id(text: &str) -> bool {
    let hex32 = |rest: &str| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit());
    let uuid = |rest: &str| Uuid::parse_str(rest).is_ok();
    [("a2a_client_", uuid as fn(&str) -> bool), ("task_", uuid)]
        .into_iter()
        .chain([
            ("admin_", hex32 as fn(&str) -> bool),
            ("mcp_client_", hex32),
            ("app_", hex32),
        ])
        .any(|(prefix, rest_ok)| text.strip_prefix(prefix).is_some_and(rest_ok))
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "a test that cannot go on fails by panicking"
    )]

    use super::*;

    fn text(value: &str) -> Raw {
        Raw::Text(value.into())
    }

    fn converts(kind: &Kind, cell: &Raw) -> Value {
        match convert(kind, true, false, false, cell) {
            Ok(Converted::Value(value)) => value,
            other => panic!("{cell:?} as {kind:?}: {other:?}"),
        }
    }

    fn refused(kind: &Kind, comma_list: bool, cell: &Raw) -> String {
        convert(kind, false, false, comma_list, cell).unwrap_err()
    }

    #[test]
    fn both_time_forms_convert_and_others_are_refused_with_the_value() {
        for ok in [
            "2025-03-01T08:00:00+00:00",
            "2025-03-01T08:00:00.123+00:00",
            "2025-03-01T08:00:00.123456+00:00",
            "2025-03-01T08:00:00.123456789+00:00",
            "2025-03-01 08:00:00",
        ] {
            assert!(timestamp(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            converts(&Kind::Time, &text("2025-03-01 08:00:00")),
            converts(&Kind::Time, &text("2025-03-01T08:00:00+00:00"))
        );
        assert!(timestamp("yesterday").unwrap_err().contains("not a time"));
        // `%Y` reads a five-digit year: the range check refuses it.
        assert!(
            refused(&Kind::Time, false, &text("+10000-01-01 00:00:00"))
                .contains("outside the years")
        );
    }

    #[test]
    fn ids_the_original_wrote_convert_map_or_are_refused() {
        let some = Uuid::new_v4();
        assert_eq!(
            converts(&Kind::Uuid, &text(&some.to_string())),
            Some(some).into()
        );
        for mapped in [
            format!("a2a_client_{some}"),
            format!("task_{some}"),
            format!("admin_{}", "ab".repeat(16)),
            format!("mcp_client_{}", "0f".repeat(16)),
            format!("app_{}", "12".repeat(16)),
        ] {
            assert_eq!(
                convert(&Kind::Uuid, false, true, false, &text(&mapped)),
                Ok(Converted::Mapped {
                    new: mapped_id(&mapped),
                    old: mapped,
                })
            );
        }
        assert_eq!(
            converts(&Kind::Uuid, &Raw::Blob(some.as_bytes().to_vec())),
            Some(some).into()
        );
        assert!(refused(&Kind::Uuid, false, &Raw::Blob(vec![1; 5])).contains("5-byte blob"));
        assert_eq!(
            convert(&Kind::Uuid, false, true, false, &Raw::Null),
            Ok(Converted::NewId)
        );
        assert!(refused(&Kind::Uuid, false, &Raw::Null).contains("requires a value"));
        assert_eq!(converts(&Kind::Uuid, &Raw::Null), None::<Uuid>.into());
        assert!(refused(&Kind::Uuid, false, &text("user-7")).contains("\"user-7\" is not a UUID"));
        assert!(refused(&Kind::Uuid, false, &text("admin_xyz")).contains("not a UUID"));
    }

    #[test]
    fn enums_booleans_and_lists_convert_only_with_known_values() {
        let tiers = Kind::Enum("tier".into(), vec!["starter".into(), "professional".into()]);
        assert!(matches!(
            converts(&tiers, &text("starter")),
            Value::Enum(OptionEnum::Some(e)) if e.value == "starter"
        ));
        let reason = refused(&tiers, false, &text("gold"));
        assert!(
            reason.contains("\"gold\" is none of starter, professional"),
            "{reason}"
        );
        assert_eq!(converts(&Kind::Bool, &Raw::Integer(1)), Some(true).into());
        assert!(refused(&Kind::Bool, false, &Raw::Integer(2)).contains("not a boolean"));
        assert!(refused(&Kind::Bool, false, &text("yes")).contains("a text is not a boolean"));
        assert_eq!(
            converts(&Kind::Json, &text("[\"a\"]")),
            Some(serde_json::json!(["a"])).into()
        );
        assert_eq!(
            convert(&Kind::Json, false, false, true, &text("read, write")),
            Ok(Converted::Value(
                Some(serde_json::json!(["read", "write"])).into()
            ))
        );
        assert_eq!(refused(&Kind::Json, false, &text("read,write")), "not JSON");
    }

    #[test]
    fn a_prefixed_id_maps_to_the_same_uuid_every_time() {
        let old = format!("admin_{}", "ab".repeat(16));
        let new = mapped_id(&old);
        assert_eq!(new, mapped_id(&old));
        assert_eq!(new.get_version_num(), 8);
        assert_ne!(new, mapped_id(&format!("admin_{}", "ac".repeat(16))));
    }

    #[test]
    fn numbers_must_fit_their_column() {
        let int = Kind::Integer(i32::MIN.into(), i32::MAX.into());
        assert!(refused(&int, false, &Raw::Integer(3_000_000_000)).contains("outside"));
        assert_eq!(converts(&int, &Raw::Integer(7)), Some(7i32).into());
        let bigint = Kind::Integer(i64::MIN, i64::MAX);
        assert_eq!(
            converts(&bigint, &Raw::Integer(3_000_000_000)),
            Some(3_000_000_000i64).into()
        );
        assert!(refused(&Kind::Real, false, &text("abc")).contains("not a number"));
        assert_eq!(converts(&Kind::Real, &Raw::Real(2.5)), Some(2.5f64).into());
        assert_eq!(converts(&Kind::Real, &Raw::Integer(2)), Some(2.0f64).into());
        assert_eq!(
            converts(&Kind::Any, &Raw::Integer(42)),
            Some("42".to_owned()).into()
        );
        assert!(refused(&Kind::Any, false, &Raw::Blob(vec![1])).contains("a blob is not text"));
    }
}
