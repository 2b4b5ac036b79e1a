//! Agent-to-agent (A2A) storage: clients and their API-key links,
//! sessions, tasks and usage. Everything is owned by a user (the client's
//! owner): a call naming a client its caller does not own is `NotFound`.

pub mod clients;
pub mod sessions;
pub mod tasks;
pub mod usage;

pub use clients::{A2aClient, A2aClients, NewA2aClient, RegisteredA2aClient};
pub use sessions::{A2aSession, A2aSessions, OpenedA2aSession};
pub use tasks::{A2aTask, A2aTasks};
pub use usage::{A2aDailyUsage, A2aUsage, A2aUsageStats, NewA2aUsage};
