//! Tenant-owned user content: chat and fitness configurations (recipes to
//! come). Reached only through `db.tenant(t)`.

pub mod chat;
pub mod fitness_configs;

pub use chat::{
    Chat, ChatMessage, Conversation, ConversationSummary, NewChatMessage, NewConversation,
};
pub use fitness_configs::{FitnessConfigs, FitnessConfiguration};
