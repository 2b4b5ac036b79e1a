//! One cell of the original's database, judged against the column it will
//! fill: whether it converts the way adoption converts it, and if not, why.
//! SQLite types cells per row, so each cell comes with its storage class.

use chrono::{DateTime, NaiveDateTime, Utc};
use sea_orm::sea_query::ColumnType;
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
    /// One of these values.
    Enum(Vec<String>),
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
            ColumnType::Enum { variants, .. } => {
                Self::Enum(variants.iter().map(|v| v.to_string()).collect())
            }
            _ => Self::Any,
        }
    }
}

/// A cell as read: SQLite's storage class (`null`, `integer`, `real`,
/// `text`, `blob`) and its text (hex for a blob).
#[derive(Clone, Debug)]
pub(crate) struct Cell {
    pub(crate) class: String,
    pub(crate) text: Option<String>,
}

/// How a cell converts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// As it is, or by a conversion that loses nothing.
    Converts,
    /// An id that is not a UUID, in one of the original's prefixed forms
    /// (`a2a_client_<uuid>`, `admin_<hex>`, …): adoption gives it a UUID
    /// and rewrites every reference to it.
    MappedId,
    /// A NULL id (the original inserted some): adoption gives it one.
    NewId,
    /// It does not convert, and why.
    Refused(String),
}

/// Judges `cell` for a column of `kind`. `is_id` marks the row's own id;
/// `comma_list` a JSON list the original stored comma-joined.
pub(crate) fn judge(
    kind: &Kind,
    nullable: bool,
    is_id: bool,
    comma_list: bool,
    cell: &Cell,
) -> Verdict {
    let Some(text) = cell.text.as_deref().filter(|_| cell.class != "null") else {
        return match (nullable, is_id) {
            (true, _) => Verdict::Converts,
            (false, true) => Verdict::NewId,
            (false, false) => Verdict::Refused("NULL in a column that requires a value".into()),
        };
    };
    match kind {
        Kind::Uuid if cell.class == "blob" => match text.len() {
            32 => Verdict::Converts,
            n => Verdict::Refused(format!("a {}-byte blob is not a UUID", n / 2)),
        },
        Kind::Uuid if Uuid::parse_str(text).is_ok() => Verdict::Converts,
        Kind::Uuid if prefixed_id(text) => Verdict::MappedId,
        Kind::Uuid => Verdict::Refused("not a UUID, nor an id form of the original's".into()),
        Kind::Time => match timestamp(text) {
            Ok(_) => Verdict::Converts,
            Err(reason) => Verdict::Refused(reason),
        },
        Kind::Bool => match (cell.class.as_str(), text) {
            ("integer", "0" | "1") => Verdict::Converts,
            _ => Verdict::Refused(format!("{text:?} is not a boolean (0 or 1)")),
        },
        Kind::Integer(min, max) if cell.class == "integer" => match text.parse::<i64>() {
            Ok(n) if (*min..=*max).contains(&n) => Verdict::Converts,
            _ => Verdict::Refused(format!("{text} is outside {min}..={max}")),
        },
        Kind::Integer(..) => Verdict::Refused(format!("a {} is not an integer", cell.class)),
        Kind::Real if matches!(cell.class.as_str(), "integer" | "real") => Verdict::Converts,
        Kind::Real => Verdict::Refused(format!("a {} is not a number", cell.class)),
        Kind::Json if serde_json::from_str::<serde_json::Value>(text).is_ok() => Verdict::Converts,
        Kind::Json if comma_list => Verdict::Converts,
        Kind::Json => Verdict::Refused("not JSON".into()),
        Kind::Enum(values) if values.iter().any(|v| v == text) => Verdict::Converts,
        Kind::Enum(values) => {
            Verdict::Refused(format!("{text:?} is none of {}", values.join(", ")))
        }
        Kind::Any => Verdict::Converts,
    }
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

    fn text(value: &str) -> Cell {
        Cell {
            class: "text".into(),
            text: Some(value.into()),
        }
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
            timestamp("2025-03-01 08:00:00").unwrap(),
            timestamp("2025-03-01T08:00:00+00:00").unwrap()
        );
        assert!(timestamp("yesterday").unwrap_err().contains("not a time"));
        // `%Y` reads a five-digit year: the range check refuses it.
        assert!(
            timestamp("+10000-01-01 00:00:00")
                .unwrap_err()
                .contains("outside the years")
        );
    }

    #[test]
    fn ids_the_original_wrote_convert_map_or_are_refused() {
        let some = Uuid::new_v4().to_string();
        assert_eq!(
            judge(&Kind::Uuid, false, true, false, &text(&some)),
            Verdict::Converts
        );
        for mapped in [
            format!("a2a_client_{some}"),
            format!("task_{some}"),
            format!("admin_{}", "ab".repeat(16)),
            format!("mcp_client_{}", "0f".repeat(16)),
            format!("app_{}", "12".repeat(16)),
        ] {
            assert_eq!(
                judge(&Kind::Uuid, false, true, false, &text(&mapped)),
                Verdict::MappedId,
                "{mapped}"
            );
        }
        let blob = Cell {
            class: "blob".into(),
            text: Some("00".repeat(16)),
        };
        assert_eq!(
            judge(&Kind::Uuid, true, false, false, &blob),
            Verdict::Converts
        );
        let null = Cell {
            class: "null".into(),
            text: None,
        };
        assert_eq!(
            judge(&Kind::Uuid, false, true, false, &null),
            Verdict::NewId
        );
        assert!(matches!(
            judge(&Kind::Uuid, false, false, false, &null),
            Verdict::Refused(_)
        ));
        assert!(matches!(
            judge(&Kind::Uuid, false, true, false, &text("user-7")),
            Verdict::Refused(_)
        ));
        assert!(matches!(
            judge(&Kind::Uuid, false, true, false, &text("admin_xyz")),
            Verdict::Refused(_)
        ));
    }

    #[test]
    fn enums_booleans_and_lists_convert_only_with_known_values() {
        let tiers = Kind::Enum(vec!["starter".into(), "professional".into()]);
        assert_eq!(
            judge(&tiers, false, false, false, &text("starter")),
            Verdict::Converts
        );
        let Verdict::Refused(reason) = judge(&tiers, false, false, false, &text("gold")) else {
            panic!("an unknown enum value converted");
        };
        assert!(
            reason.contains("\"gold\" is none of starter, professional"),
            "{reason}"
        );
        let one = Cell {
            class: "integer".into(),
            text: Some("1".into()),
        };
        assert_eq!(
            judge(&Kind::Bool, false, false, false, &one),
            Verdict::Converts
        );
        assert!(matches!(
            judge(&Kind::Bool, false, false, false, &text("yes")),
            Verdict::Refused(_)
        ));
        assert_eq!(
            judge(&Kind::Json, false, false, false, &text("[\"a\"]")),
            Verdict::Converts
        );
        assert_eq!(
            judge(&Kind::Json, false, false, true, &text("read,write")),
            Verdict::Converts
        );
        assert!(matches!(
            judge(&Kind::Json, false, false, false, &text("read,write")),
            Verdict::Refused(_)
        ));
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
        let big = Cell {
            class: "integer".into(),
            text: Some("3000000000".into()),
        };
        let int = Kind::Integer(i32::MIN.into(), i32::MAX.into());
        assert!(matches!(
            judge(&int, false, false, false, &big),
            Verdict::Refused(_)
        ));
        let bigint = Kind::Integer(i64::MIN, i64::MAX);
        assert_eq!(judge(&bigint, false, false, false, &big), Verdict::Converts);
        assert!(matches!(
            judge(&Kind::Real, false, false, false, &text("abc")),
            Verdict::Refused(_)
        ));
        let real = Cell {
            class: "real".into(),
            text: Some("2.5".into()),
        };
        assert_eq!(
            judge(&Kind::Real, false, false, false, &real),
            Verdict::Converts
        );
    }
}
