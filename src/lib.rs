//! pierre-db
