//! What users keep about themselves and receive: profiles,
//! configurations, goals, insights, OAuth notifications. Every call names
//! the user; another user's row is never read or changed.

pub mod documents;
pub mod goals;
pub mod insights;
pub mod notifications;

pub use documents::{UserConfigurations, UserDocument, UserProfiles};
pub use goals::{Goal, Goals};
pub use insights::{Insight, Insights, NewInsight};
pub use notifications::{NewOAuthNotification, OAuthNotification, OAuthNotifications};
