//! Security audit events: a tenant's through `db.tenant(t).audit_events()`,
//! the platform's own (no tenant) through `db.global_audit_events()`.
//!
//! Append-only: events are recorded and listed, never changed.

use chrono::{DateTime, Utc};
use entity::audit_events as events;
use pierre_db_macros::metered;
use sea_orm::{ColumnTrait, QueryFilter};
use tracing::instrument;
use uuid::Uuid;

use crate::error::{DatabaseError, Result};
use crate::ids::{AuditEventId, TenantId, UserId};
use crate::pagination::{Page, PageRequest, Position};
use crate::query::Rows;
use crate::query::RunInsert;
use crate::query::in_period;
use crate::query::{keyset_order, keyset_page};
use crate::time;
use crate::validation;

/// How serious an event is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditSeverity {
    /// Routine.
    Info,
    /// Worth a look.
    Warning,
    /// Something failed.
    Error,
    /// Needs someone now.
    Critical,
}

impl AuditSeverity {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditSeverity::Info => "info",
            AuditSeverity::Warning => "warning",
            AuditSeverity::Error => "error",
            AuditSeverity::Critical => "critical",
        }
    }

    /// The severity stored as `text`; an unknown spelling is bad data.
    fn stored(text: &str) -> Result<Self> {
        Ok(match text {
            "info" => AuditSeverity::Info,
            "warning" => AuditSeverity::Warning,
            "error" => AuditSeverity::Error,
            "critical" => AuditSeverity::Critical,
            other => {
                return Err(DatabaseError::Decode(format!(
                    "audit_events.severity {other:?} is not info, warning, error or critical"
                )));
            }
        })
    }
}

/// An event to record with [`AuditEvents::record`].
#[derive(Clone, Debug)]
pub struct NewAuditEvent {
    /// What happened, as a dotted name (`user.login`, `key.rotated`).
    pub event_type: String,
    /// How serious.
    pub severity: AuditSeverity,
    /// A sentence for people.
    pub message: String,
    /// Which part of the system saw it.
    pub source: String,
    /// How it ended (`success`, `failure`, `denied`).
    pub result: String,
    /// Who did it, if a user.
    pub user_id: Option<UserId>,
    /// From where.
    pub ip_address: Option<String>,
    /// With what client.
    pub user_agent: Option<String>,
    /// The request it belongs to (kept in the metadata as `request_id`).
    pub request_id: Option<String>,
    /// Anything else: a JSON object.
    pub metadata: Option<serde_json::Value>,
}

impl NewAuditEvent {
    /// An event with the required fields and nothing else.
    pub fn new(
        event_type: impl Into<String>,
        severity: AuditSeverity,
        message: impl Into<String>,
        source: impl Into<String>,
        result: impl Into<String>,
    ) -> Self {
        Self {
            event_type: event_type.into(),
            severity,
            message: message.into(),
            source: source.into(),
            result: result.into(),
            user_id: None,
            ip_address: None,
            user_agent: None,
            request_id: None,
            metadata: None,
        }
    }
}

/// A recorded event.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    /// The row id.
    pub id: AuditEventId,
    /// What happened.
    pub event_type: String,
    /// How serious.
    pub severity: AuditSeverity,
    /// A sentence for people.
    pub message: String,
    /// Which part of the system saw it.
    pub source: String,
    /// How it ended.
    pub result: String,
    /// Its tenant; `None` for a platform event.
    pub tenant_id: Option<TenantId>,
    /// Who did it, if a user (cleared if the user is deleted).
    pub user_id: Option<UserId>,
    /// From where.
    pub ip_address: Option<String>,
    /// With what client.
    pub user_agent: Option<String>,
    /// The request it belongs to.
    pub request_id: Option<String>,
    /// Anything else.
    pub metadata: Option<serde_json::Value>,
    /// When.
    pub timestamp: DateTime<Utc>,
}

impl TryFrom<events::Model> for AuditEvent {
    type Error = DatabaseError;

    fn try_from(m: events::Model) -> Result<Self> {
        let request_id = m
            .metadata
            .as_ref()
            .and_then(|meta| meta.get("request_id"))
            .and_then(|id| id.as_str())
            .map(str::to_owned);
        Ok(Self {
            id: AuditEventId::from_uuid(m.id),
            severity: AuditSeverity::stored(&m.severity)?,
            event_type: m.event_type,
            message: m.message,
            source: m.source,
            result: m.result,
            tenant_id: m.tenant_id.map(TenantId::from_uuid),
            user_id: m.user_id.map(UserId::from_uuid),
            ip_address: m.ip_address,
            user_agent: m.user_agent,
            request_id,
            metadata: m.metadata,
            timestamp: m.timestamp.to_utc(),
        })
    }
}

/// Which events [`AuditEvents::list`] gives.
#[derive(Clone, Debug, Default)]
pub struct AuditEventFilter {
    /// Only this type.
    pub event_type: Option<String>,
    /// Only this severity.
    pub severity: Option<AuditSeverity>,
    /// At or after this time. A time outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming this field.
    pub from: Option<DateTime<Utc>>,
    /// Before this time. A time outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming this field.
    pub to: Option<DateTime<Utc>>,
}

/// Audit events of one tenant (`db.tenant(t).audit_events()`) or of the
/// platform (`db.global_audit_events()`).
///
/// ```
/// use pierre_db::{AuditEventFilter, AuditSeverity, Database, MasterKey, NewAuditEvent, PageRequest};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// # config.migrate_on_connect = true;
/// # let db = Database::connect_with(config).await?;
/// let audit = db.global_audit_events();
/// let mut event = NewAuditEvent::new("key.rotated", AuditSeverity::Info, "Data key v2", "keys", "success");
/// event.request_id = Some("req-7".into());
/// audit.record(event).await?;
/// let page = audit.list(&AuditEventFilter::default(), &PageRequest::first(10)).await?;
/// assert_eq!(page.items[0].request_id.as_deref(), Some("req-7"));
/// # Ok(())
/// # }
/// ```
pub struct AuditEvents<'a> {
    rows: Rows<'a>,
}

/// Limits and fixed values of this repository's data.
impl AuditEvents<'_> {
    /// Longest event type, source or result.
    pub const MAX_NAME: usize = 100;
    /// Longest message, in characters.
    pub const MAX_MESSAGE: usize = 4000;
    /// Longest IP address.
    pub const MAX_IP: usize = 45;
    /// Longest user agent.
    pub const MAX_USER_AGENT: usize = 512;
    /// Longest request id.
    pub const MAX_REQUEST_ID: usize = 128;
    /// Largest metadata document, in bytes of JSON.
    pub const MAX_METADATA: usize = 16 * 1024;
}

impl<'a> AuditEvents<'a> {
    pub(crate) fn new(rows: impl Into<Rows<'a>>) -> Self {
        Self { rows: rows.into() }
    }

    /// Records `event` now. `InvalidInput` for a blank or over-long field,
    /// or metadata that is not a JSON object of bounded size; `ForeignKey`
    /// for an unknown user.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = ?self.rows.tenant(), event_type = %event.event_type), err(Display))]
    pub async fn record(&self, event: NewAuditEvent) -> Result<AuditEvent> {
        let mut metadata = event.metadata.unwrap_or(serde_json::Value::Null);
        if let Some(id) = event.request_id {
            let id = validation::required("request_id", &id, AuditEvents::MAX_REQUEST_ID)?;
            if metadata.is_null() {
                metadata = serde_json::json!({});
            }
            if let Some(object) = metadata.as_object_mut() {
                object.insert("request_id".into(), id.into());
            }
        }
        let metadata = match metadata {
            serde_json::Value::Null => None,
            value => {
                validation::json_document("metadata", &value, AuditEvents::MAX_METADATA, true)?;
                Some(value)
            }
        };
        let row = events::Model {
            id: Uuid::now_v7(),
            event_type: validation::required(
                "event_type",
                &event.event_type,
                AuditEvents::MAX_NAME,
            )?,
            severity: event.severity.as_str().to_owned(),
            message: validation::optional_multiline(
                "message",
                Some(&event.message),
                AuditEvents::MAX_MESSAGE,
            )?
            .ok_or_else(|| DatabaseError::invalid("message", "must not be empty"))?,
            source: validation::required("source", &event.source, AuditEvents::MAX_NAME)?,
            result: validation::required("result", &event.result, AuditEvents::MAX_NAME)?,
            // What the insert below sets (the scope decides); here for the
            // event returned.
            tenant_id: self.rows.tenant().map(|t| t.as_uuid()),
            user_id: event.user_id.map(|u| u.as_uuid()),
            ip_address: validation::optional(
                "ip_address",
                event.ip_address.as_deref(),
                AuditEvents::MAX_IP,
            )?,
            user_agent: validation::optional(
                "user_agent",
                event.user_agent.as_deref(),
                AuditEvents::MAX_USER_AGENT,
            )?,
            metadata,
            timestamp: time::stored(time::now()),
        };
        let insert = sea_orm::ActiveModelTrait::reset_all(events::ActiveModel::from(row.clone()));
        self.rows
            .insert(insert)?
            .exec_without_returning_in(&self.rows)
            .await?;
        row.try_into()
    }

    /// The events that pass `filter`, newest first, one keyset page at a
    /// time (on `(tenant_id, timestamp, id)`). A time outside the years
    /// 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the field.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = ?self.rows.tenant(), limit = request.limit()), err(Display))]
    pub async fn list(
        &self,
        filter: &AuditEventFilter,
        request: &PageRequest,
    ) -> Result<Page<AuditEvent>> {
        let mut select = self.rows.find::<events::Entity>();
        if let Some(kind) = &filter.event_type {
            let kind = validation::required("event_type", kind, AuditEvents::MAX_NAME)?;
            select = select.filter(events::Column::EventType.eq(kind));
        }
        if let Some(severity) = filter.severity {
            select = select.filter(events::Column::Severity.eq(severity.as_str()));
        }
        let select = in_period(select, events::Column::Timestamp, filter.from, filter.to)?;
        let list = self
            .rows
            .list("audit_events")
            .by(&filter.event_type)
            .by(filter.severity)
            .by(filter.from)
            .by(filter.to);
        let page = keyset_page::<events::Model>(&self.rows, &list, request, select).await?;
        page.try_map(AuditEvent::try_from)
    }
}

keyset_order!(
    events::Model,
    events::Column,
    (events::Column::Timestamp, events::Column::Id),
    Descending,
    |row| Position {
        at: row.timestamp.to_utc(),
        id: row.id,
    }
);
