//! API keys: generated once, stored hashed, looked up by prefix.
