//! A tenant's own OAuth client credentials per provider (client secret encrypted; tenant-scoped).
