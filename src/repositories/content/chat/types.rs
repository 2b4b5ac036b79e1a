//! The chat types of the API: conversations, their summaries, and messages.

use chrono::{DateTime, Utc};
use entity::chat_conversations as conversations;
use entity::chat_messages as messages;
use entity::sea_orm_active_enums::ChatRole;

use super::Chat;
use crate::error::{DatabaseError, Result};
use crate::ids::{ConversationId, MessageId, TenantId, UserId};
use crate::query::{unsigned, unsigned_opt};

/// A chat conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversation {
    /// The row id.
    pub id: ConversationId,
    /// Whose it is.
    pub user_id: UserId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Its title.
    pub title: String,
    /// The model it talks to.
    pub model: String,
    /// The system prompt, if any.
    pub system_prompt: Option<String>,
    /// Tokens of all its messages.
    pub total_tokens: u64,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// Its last activity.
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<conversations::Model> for Conversation {
    type Error = DatabaseError;

    fn try_from(m: conversations::Model) -> Result<Self> {
        Ok(Self {
            id: ConversationId::from_uuid(m.id),
            user_id: UserId::from_uuid(m.user_id),
            tenant_id: TenantId::from_uuid(m.tenant_id),
            title: m.title,
            model: m.model,
            system_prompt: m.system_prompt,
            total_tokens: unsigned("chat_conversations.total_tokens", m.total_tokens)?,
            created_at: m.created_at.to_utc(),
            updated_at: m.updated_at.to_utc(),
        })
    }
}

/// A conversation with its message count, as [`Chat::list_conversations`]
/// gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationSummary {
    /// The conversation.
    pub conversation: Conversation,
    /// How many messages it holds.
    pub message_count: u64,
}

/// A conversation to start with [`Chat::create_conversation`].
#[derive(Clone, Debug)]
pub struct NewConversation {
    /// Whose it is.
    pub user_id: UserId,
    /// Its title.
    pub title: String,
    /// The model (default [`Chat::DEFAULT_MODEL`]).
    pub model: String,
    /// The system prompt.
    pub system_prompt: Option<String>,
}

impl NewConversation {
    /// A conversation of `user` with the default model and no system prompt.
    pub fn new(user_id: UserId, title: impl Into<String>) -> Self {
        Self {
            user_id,
            title: title.into(),
            model: Chat::DEFAULT_MODEL.to_owned(),
            system_prompt: None,
        }
    }
}

/// A message of a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatMessage {
    /// The row id.
    pub id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Who spoke.
    pub role: ChatRole,
    /// What was said.
    pub content: String,
    /// Its tokens, if counted.
    pub token_count: Option<u32>,
    /// Why the model stopped, for an assistant message.
    pub finish_reason: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl TryFrom<messages::Model> for ChatMessage {
    type Error = DatabaseError;

    fn try_from(m: messages::Model) -> Result<Self> {
        Ok(Self {
            id: MessageId::from_uuid(m.id),
            conversation_id: ConversationId::from_uuid(m.conversation_id),
            role: m.role,
            content: m.content,
            token_count: unsigned_opt("chat_messages.token_count", m.token_count)?,
            finish_reason: m.finish_reason,
            created_at: m.created_at.to_utc(),
        })
    }
}

/// A message to add with [`Chat::add_message`].
#[derive(Clone, Debug)]
pub struct NewChatMessage {
    /// Who speaks.
    pub role: ChatRole,
    /// What is said.
    pub content: String,
    /// Its tokens, if counted (added to the conversation's total).
    pub token_count: Option<u32>,
    /// Why the model stopped.
    pub finish_reason: Option<String>,
}

impl NewChatMessage {
    /// A message of `role` without token count.
    pub fn new(role: ChatRole, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            token_count: None,
            finish_reason: None,
        }
    }
}
