//! API-key and JWT usage, request logs and statistics.
