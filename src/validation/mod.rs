//! Input checks shared by every repository, so each rule lives once, split
//! by job:
//!
//! - internet syntax (public, for applications that want to check input
//!   the way this crate does before calling it): [`email`],
//!   [`domain_name`], [`http_url`];
//! - field rules (crate-private): text lengths, identifiers, slugs,
//!   ranges, expiries;
//! - the request every usage table records ([`ServedRequest`](crate::ServedRequest), public, with
//!   its checks) and the fields around it: tool, endpoint, method;
//! - OAuth rules (crate-private): providers, client credentials, redirect
//!   URIs and scope lists, shared by the credential repositories, the
//!   OAuth 2.0 server and A2A clients.
//!
//! Each check returns the cleaned value or a
//! [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
//! naming the field, before anything reaches the database.

mod fields;
mod internet;
pub(crate) mod oauth;
pub(crate) mod request;

pub(crate) use fields::{
    expiry, identifier, int_range, json_document, known_values, list_of, optional,
    optional_multiline, ordered, quantity, required, secret, slug,
};
pub use internet::{MAX_DOMAIN_LEN, MAX_EMAIL_LEN, domain_name, email, http_url};
