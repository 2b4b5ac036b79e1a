//! Tenants: creation, lookup and listing.
