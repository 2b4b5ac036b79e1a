//! Chat conversations and their messages: `db.tenant(t).chat()`.
//!
//! A conversation belongs to a user in a tenant; its messages have no
//! tenant column of their own and are reached only through a conversation
//! of this scope and that user. Adding a message is one transaction: the
//! conversation's `updated_at` and `total_tokens` are bumped in SQL first
//! (which also proves it is the user's, in this tenant), then the message
//! is inserted. The original did this in two statements and checked only
//! the user.

use entity::chat_conversations as conversations;
use entity::chat_messages as messages;
use pierre_db_macros::metered;
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QueryResult, QuerySelect, Select,
};
use tracing::instrument;
use uuid::Uuid;

use crate::error::{DatabaseError, Result};
use crate::ids::{ConversationId, MessageId, UserId};
use crate::pagination::{Page, PageRequest, Position, checked_limit};
use crate::query::Scoped;
use crate::query::cells::{Cell, Decode, Row, at, checked, decoded_rows, read_enum};
use crate::query::{Checked, RunInsert, RunSelect, RunWrite};
use crate::query::{KeysetSql, PreparedPage, keyset_order, keyset_page, keyset_sql};
use crate::query::{Prepared, expect_changed, prepared, unsigned, unsigned_opt};
use crate::time;
use crate::validation;

mod types;
pub use types::*;

/// A conversation row and its count, read in one query.
struct SummaryRow(conversations::Model, i64);

impl FromQueryResult for SummaryRow {
    fn from_query_result(row: &QueryResult, prefix: &str) -> std::result::Result<Self, DbErr> {
        Ok(Self(
            conversations::Model::from_query_result(row, prefix)?,
            row.try_get(prefix, "message_count")?,
        ))
    }
}

/// A [`ChatMessage`] read by column position from `messages::Entity::find()`
/// (the page is a hot path; see the `cells` module).
struct MessageRow(ChatMessage);

decoded_rows!(MessageRow);

impl Decode for MessageRow {
    fn decode(row: Row<'_>) -> std::result::Result<Self, DbErr> {
        let tokens = Option::<i32>::read(row, at!(messages::Column::TokenCount))?;
        Ok(Self(ChatMessage {
            id: MessageId::from_uuid(Uuid::read(row, at!(messages::Column::Id))?),
            conversation_id: ConversationId::from_uuid(Uuid::read(
                row,
                at!(messages::Column::ConversationId),
            )?),
            role: read_enum(row, at!(messages::Column::Role))?,
            content: String::read(row, at!(messages::Column::Content))?,
            token_count: checked(unsigned_opt("chat_messages.token_count", tokens))?,
            finish_reason: Cell::read(row, at!(messages::Column::FinishReason))?,
            created_at: Cell::read(row, at!(messages::Column::CreatedAt))?,
        }))
    }
}

/// A tenant's chat: `db.tenant(t).chat()`.
///
/// ```
/// use pierre_db::{ChatRole, Database, MasterKey, NewChatMessage, NewConversation, NewTenant, NewUser, PageRequest};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// # config.migrate_on_connect = true;
/// # let db = Database::connect_with(config).await?;
/// # let ada = db.users().create(NewUser::new("ada@example.org", "hash")).await?;
/// # let tenant = db.tenants().create(NewTenant::new("Acme", "acme", ada.id)).await?;
/// let chat = db.tenant(tenant.id).chat();
/// let talk = chat.create_conversation(NewConversation::new(ada.id, "Training plan")).await?;
/// let mut question = NewChatMessage::new(ChatRole::User, "How far on Sunday?");
/// question.token_count = Some(7);
/// chat.add_message(ada.id, talk.id, question).await?;
/// let listed = chat.list_conversations(ada.id, &PageRequest::first(10)).await?;
/// assert_eq!(listed.items[0].message_count, 1);
/// assert_eq!(listed.items[0].conversation.total_tokens, 7);
/// # Ok(())
/// # }
/// ```
pub struct Chat<'a> {
    scope: Scoped<'a>,
}

/// Limits and fixed values of this repository's data.
impl Chat<'_> {
    /// The model a conversation gets when none is given (the schema default).
    pub const DEFAULT_MODEL: &'static str = "gemini-2.0-flash-exp";
    /// Longest title.
    pub const MAX_TITLE: usize = 500;
    /// Longest model name.
    pub const MAX_MODEL: usize = 100;
    /// Longest system prompt, in characters.
    pub const MAX_SYSTEM_PROMPT: usize = 32 * 1024;
    /// Longest message, in characters.
    pub const MAX_CONTENT: usize = 256 * 1024;
    /// Longest finish reason.
    pub const MAX_FINISH_REASON: usize = 64;
    /// Most messages [`Chat::recent_messages`] returns.
    pub const MAX_RECENT: u32 = 1000;
}

impl<'a> Chat<'a> {
    pub(crate) fn new(scope: Scoped<'a>) -> Self {
        Self { scope }
    }

    /// Starts a conversation. `InvalidInput` for a blank or over-long title
    /// or model, or an over-long system prompt; `ForeignKey` for an
    /// unknown user.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %new.user_id), err(Display))]
    pub async fn create_conversation(&self, new: NewConversation) -> Result<Conversation> {
        let title = validation::required("title", &new.title, Chat::MAX_TITLE)?;
        let model = validation::required("model", &new.model, Chat::MAX_MODEL)?;
        let system_prompt = validation::optional_multiline(
            "system_prompt",
            new.system_prompt.as_deref(),
            Chat::MAX_SYSTEM_PROMPT,
        )?;
        let now = time::stored(time::now());
        let row = conversations::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(new.user_id.as_uuid()),
            title: Set(title),
            model: Set(model),
            system_prompt: Set(system_prompt),
            total_tokens: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        let id = row.id.clone().unwrap();
        self.scope
            .insert(row)?
            .exec_without_returning_in(&self.scope)
            .await?;
        self.get_conversation(new.user_id, ConversationId::from_uuid(id))
            .await
    }

    /// The user's conversation; `NotFound` if it is not theirs in this
    /// tenant.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, conversation_id = %id))]
    pub async fn get_conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
        self.scope
            .find::<conversations::Entity>()
            .filter(conversations::Column::Id.eq(id))
            .filter(conversations::Column::UserId.eq(user.as_uuid()))
            .one_in(&self.scope)
            .await?
            .ok_or_else(|| DatabaseError::not_found("conversation", id))?
            .try_into()
    }

    /// The user's conversations, latest activity first, each with its
    /// message count, in ONE query per page (a correlated count on the
    /// messages' index; no query per conversation).
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, limit = request.limit()))]
    pub async fn list_conversations(
        &self,
        user: UserId,
        request: &PageRequest,
    ) -> Result<Page<ConversationSummary>> {
        let list = self.scope.list("chat_conversations").by(user);
        let page = keyset_page::<SummaryRow>(&self.scope, &list, request, self.conversations(user))
            .await?;
        page.try_map(|SummaryRow(conversation, count)| {
            Ok(ConversationSummary {
                conversation: conversation.try_into()?,
                message_count: unsigned("count", count)?,
            })
        })
    }

    /// Renames the user's conversation. `NotFound` if it is not theirs.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, conversation_id = %id), err(Display))]
    pub async fn rename(&self, user: UserId, id: ConversationId, title: &str) -> Result<()> {
        let title = validation::required("title", title, Chat::MAX_TITLE)?;
        let changed = self
            .scope
            .update::<conversations::Entity>()
            .col_expr(conversations::Column::Title, Expr::value(title))
            .col_expr(
                conversations::Column::UpdatedAt,
                Expr::value(time::stored(time::now())),
            )
            .filter(conversations::Column::Id.eq(id))
            .filter(conversations::Column::UserId.eq(user.as_uuid()))
            .exec_in(&self.scope)
            .await?
            .rows_affected;
        expect_changed(changed, "conversation", id)
    }

    /// Deletes the user's conversation and (by the foreign key's cascade)
    /// its messages; whether it existed.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, conversation_id = %id), err(Display))]
    pub async fn delete_conversation(&self, user: UserId, id: ConversationId) -> Result<bool> {
        let deleted = self
            .scope
            .delete::<conversations::Entity>()
            .filter(conversations::Column::Id.eq(id))
            .filter(conversations::Column::UserId.eq(user.as_uuid()))
            .exec_in(&self.scope)
            .await?
            .rows_affected;
        Ok(deleted > 0)
    }

    /// Deletes all of the user's conversations in this tenant; how many.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user), err(Display))]
    pub async fn delete_all_for_user(&self, user: UserId) -> Result<u64> {
        Ok(self
            .scope
            .delete::<conversations::Entity>()
            .filter(conversations::Column::UserId.eq(user.as_uuid()))
            .exec_in(&self.scope)
            .await?
            .rows_affected)
    }

    /// Adds a message to the user's conversation in ONE transaction: the
    /// conversation's `updated_at` and `total_tokens + token_count` are set
    /// in SQL, then the message is inserted. `NotFound`, with nothing
    /// written, if the conversation is not the user's in this tenant.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, conversation_id = %conversation), err(Display))]
    pub async fn add_message(
        &self,
        user: UserId,
        conversation: ConversationId,
        new: NewChatMessage,
    ) -> Result<ChatMessage> {
        let content =
            validation::optional_multiline("content", Some(&new.content), Chat::MAX_CONTENT)?
                .ok_or_else(|| DatabaseError::invalid("content", "must not be empty"))?;
        let finish_reason = validation::optional(
            "finish_reason",
            new.finish_reason.as_deref(),
            Chat::MAX_FINISH_REASON,
        )?;
        let tokens = new
            .token_count
            .map(|n| validation::int_range::<u32, i32>("token_count", n, 0..=i32::MAX as u32))
            .transpose()?;
        let now = time::stored(time::now());
        let row = messages::Model {
            id: Uuid::now_v7(),
            conversation_id: conversation.as_uuid(),
            role: new.role,
            content,
            token_count: tokens,
            finish_reason,
            created_at: now,
        };
        // Both texts built once: this is the chat's hot write.
        static BUMP: Prepared = prepared!();
        static INSERT: Prepared = prepared!();
        let added = i64::from(tokens.unwrap_or(0));
        // Built by the scope (this tenant's rows only), run in the
        // transaction below.
        let bump = self.scope.prepared_update::<conversations::Entity>(
            &BUMP,
            [now.into(), added.into()],
            [conversation.into(), user.as_uuid().into()],
            |update| {
                update
                    .col_expr(conversations::Column::UpdatedAt, Expr::value(now))
                    .col_expr(
                        conversations::Column::TotalTokens,
                        Expr::col(conversations::Column::TotalTokens).add(added),
                    )
                    .filter(conversations::Column::Id.eq(conversation))
                    .filter(conversations::Column::UserId.eq(user.as_uuid()))
            },
        );
        let insert = INSERT.insert(
            self.scope.backend(),
            sea_orm::ActiveModelTrait::reset_all(messages::ActiveModel::from(row.clone())),
            |insert| insert,
        );
        self.scope
            .in_write_tx(|tx| {
                Box::pin(async move {
                    let changed = bump.execute_in(&tx).await?;
                    expect_changed(changed, "conversation", conversation)?;
                    insert.execute_in(&tx).await?;
                    Ok(())
                })
            })
            .await?;
        row.try_into()
    }

    /// The conversation's messages, oldest first, one keyset page at a
    /// time (on `(conversation_id, created_at, id)`). `NotFound` if the
    /// conversation is not the user's.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, conversation_id = %conversation, limit = request.limit()))]
    pub async fn messages(
        &self,
        user: UserId,
        conversation: ConversationId,
        request: &PageRequest,
    ) -> Result<Page<ChatMessage>> {
        self.ensure_owned(user, conversation.as_uuid()).await?;
        static PAGE: KeysetSql = keyset_sql!();
        let list = self.scope.list("chat_messages").by(conversation);
        let page = keyset_page::<MessageRow>(
            &self.scope,
            &list,
            request,
            PreparedPage {
                sql: &PAGE,
                values: vec![conversation.into()],
                select: || messages_of(conversation.as_uuid()),
            },
        )
        .await?;
        Ok(page.map(|row| row.0))
    }

    /// The `n` most recent messages, in chronological order. An `n` of 0 or
    /// above [`Chat::MAX_RECENT`] is `InvalidInput`, never cut short
    /// ([`Chat::messages`] pages through all of them). `NotFound` if the
    /// conversation is not the user's.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, conversation_id = %conversation, n))]
    pub async fn recent_messages(
        &self,
        user: UserId,
        conversation: ConversationId,
        n: u32,
    ) -> Result<Vec<ChatMessage>> {
        let n = checked_limit(n, Chat::MAX_RECENT, "messages")?;
        self.ensure_owned(user, conversation.as_uuid()).await?;
        let mut newest: Vec<ChatMessage> = messages::Entity::find()
            .filter(messages::Column::ConversationId.eq(conversation))
            .order_by_desc(messages::Column::CreatedAt)
            .order_by_desc(messages::Column::Id)
            .limit(n)
            .all_in(&self.scope)
            .await?
            .into_iter()
            .map(ChatMessage::try_from)
            .collect::<Result<_>>()?;
        newest.reverse();
        Ok(newest)
    }

    /// `NotFound` unless the conversation is the user's in this tenant:
    /// one indexed lookup of its id, its SQL built once.
    async fn ensure_owned(&self, user: UserId, conversation: Uuid) -> Result<()> {
        static OWNED: Prepared = prepared!();
        let values = [conversation.into(), user.as_uuid().into()];
        let statement = self.scope.prepared(
            &OWNED,
            values,
            |mine: Checked<Select<conversations::Entity>>| {
                mine.select_only()
                    .column(conversations::Column::Id)
                    .filter(conversations::Column::Id.eq(conversation))
                    .filter(conversations::Column::UserId.eq(user.as_uuid()))
            },
        );
        match statement.exists_in(&self.scope).await? {
            true => Ok(()),
            false => Err(DatabaseError::not_found("conversation", conversation)),
        }
    }

    /// The user's conversations with their message counts, unordered.
    fn conversations(&self, user: UserId) -> Checked<sea_orm::Select<conversations::Entity>> {
        let count = Query::select()
            .expr(Expr::col(Asterisk).count())
            .from(messages::Entity)
            .and_where(
                Expr::col((messages::Entity, messages::Column::ConversationId))
                    .equals((conversations::Entity, conversations::Column::Id)),
            )
            .to_owned();
        self.scope
            .find::<conversations::Entity>()
            .filter(conversations::Column::UserId.eq(user.as_uuid()))
            .column_as(
                Expr::SubQuery(None, Box::new(count.into())),
                "message_count",
            )
    }

    /// The SQL of the conversation and message pages (first page and a
    /// page after a cursor), for tests that check their query plans.
    #[cfg(feature = "internals")]
    #[doc(hidden)]
    pub fn page_statements(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> Vec<sea_orm::Statement> {
        use crate::query::in_page;
        let backend = self.scope.backend();
        let cursor = Some(Position {
            at: chrono::Utc::now(),
            id: Uuid::now_v7(),
        });
        let mut out = Vec::new();
        for after in [None, cursor] {
            out.push(
                in_page::<SummaryRow, _>(self.conversations(user), 50, after)
                    .build(backend)
                    .into_inner(),
            );
            let messages = in_page::<MessageRow, _>(messages_of(conversation.as_uuid()), 50, after);
            out.push(messages.build(backend).into_inner());
        }
        out
    }

    /// How many messages the user's conversation holds. `NotFound` if it
    /// is not theirs.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, conversation_id = %conversation))]
    pub async fn count_messages(&self, user: UserId, conversation: ConversationId) -> Result<u64> {
        self.ensure_owned(user, conversation.as_uuid()).await?;
        messages_of(conversation.as_uuid())
            .count_in(&self.scope)
            .await
    }
}

/// A conversation's messages, unordered.
fn messages_of(conversation: Uuid) -> sea_orm::Select<messages::Entity> {
    messages::Entity::find().filter(messages::Column::ConversationId.eq(conversation))
}

// Conversations page newest activity first on
// `(tenant_id, user_id, updated_at, id)`; messages oldest first on
// `(conversation_id, created_at, id)`.
keyset_order!(
    SummaryRow,
    conversations::Column,
    (conversations::Column::UpdatedAt, conversations::Column::Id),
    Descending,
    |SummaryRow(last, _)| Position {
        at: last.updated_at.to_utc(),
        id: last.id,
    }
);
keyset_order!(
    MessageRow,
    messages::Column,
    (messages::Column::CreatedAt, messages::Column::Id),
    Ascending,
    |row| Position {
        at: row.0.created_at,
        id: row.0.id.as_uuid(),
    },
    decoded
);
