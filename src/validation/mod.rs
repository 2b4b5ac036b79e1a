//! Input checks shared by every repository, so each rule lives once, split
//! by job:
//!
//! - internet syntax (public, for applications that want to check input
//!   the way this crate does before calling it): [`email`],
//!   [`domain_name`], [`http_url`];
//! - field rules (crate-private): text lengths, identifiers, slugs,
//!   ranges, expiries;
//! - OAuth rules live beside the credential repositories that use them.
//!
//! Each check returns the cleaned value or a
//! [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
//! naming the field, before anything reaches the database.

mod fields;
mod internet;

pub(crate) use fields::{
    expiry, identifier, int_range, json_document, known_values, list_of, optional,
    optional_multiline, ordered, quantity, required, secret, slug,
};
pub use internet::{MAX_DOMAIN_LEN, MAX_EMAIL_LEN, domain_name, email, http_url};
