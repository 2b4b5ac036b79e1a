//! Tenant-owned user content: chat, recipes and fitness configurations.
//! Reached only through `db.tenant(t)`.

pub mod chat;
pub mod fitness_configs;
pub mod recipes;

pub use chat::{
    Chat, ChatMessage, Conversation, ConversationSummary, NewChatMessage, NewConversation,
};
pub use fitness_configs::{FitnessConfigs, FitnessConfiguration};
pub use recipes::{
    Ingredient, NewIngredient, Nutrition, Recipe, RecipeDraft, RecipeFilter, RecipeWithIngredients,
    Recipes,
};
