//! The application's JWT signing keys: `db.rsa_keys()`.
//!
//! The private key PEM is encrypted with the `rsa_keypairs.private_key_pem`
//! column context (bound to the key id); the public key is stored plain.
//! At most one key is active, under concurrency too: activation is one
//! statement over every row.

use chrono::{DateTime, Utc};
use entity::rsa_keypairs as keys;
use pierre_db_macros::metered;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tracing::instrument;

use crate::crypto::columns::RSA_PRIVATE_KEY;
use crate::crypto::secret::Secret;
use crate::error::{DatabaseError, Result};
use crate::query::Ctx;
use crate::query::{Allowed, RunSelect, RunWrite};
use crate::query::{expect_changed, unsigned};
use crate::time;
use crate::transactions::{RetryPolicy, retrying};
use crate::validation;

/// A key pair to save.
#[derive(Clone, Debug)]
pub struct NewRsaKeyPair {
    /// The key id (`kid` in JWT headers).
    pub kid: String,
    /// The private key, PEM.
    pub private_key_pem: Secret,
    /// The public key, PEM.
    pub public_key_pem: String,
    /// The modulus size: 2048, 3072 or 4096.
    pub key_size_bits: u32,
}

/// A stored key pair, the private key decrypted.
#[derive(Clone, Debug)]
pub struct RsaKeyPair {
    /// The key id.
    pub kid: String,
    /// The private key, PEM.
    pub private_key_pem: Secret,
    /// The public key, PEM.
    pub public_key_pem: String,
    /// When it was saved first.
    pub created_at: DateTime<Utc>,
    /// Whether it signs new tokens.
    pub is_active: bool,
    /// The modulus size.
    pub key_size_bits: u32,
}

/// JWT signing key pairs: `db.rsa_keys()`.
pub struct RsaKeys<'a> {
    ctx: Ctx<'a>,
}

/// Limits and fixed values of this repository's data.
impl RsaKeys<'_> {
    /// Longest key id.
    pub const MAX_KID: usize = 200;
    /// Longest PEM accepted, in bytes.
    pub const MAX_PEM_BYTES: usize = 64 * 1024;
}

impl<'a> RsaKeys<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Saves a key pair, replacing the one with the same kid (its active
    /// flag and creation time stay). `InvalidInput` for a bad kid, an empty
    /// or over-long PEM, or a key size other than 2048, 3072 or 4096.
    #[metered]
    #[instrument(skip_all, fields(kid = %new.kid), err(Display))]
    pub async fn save(&self, new: NewRsaKeyPair) -> Result<()> {
        let kid = validation::required("kid", &new.kid, RsaKeys::MAX_KID)?;
        validation::secret(
            "private_key_pem",
            new.private_key_pem.expose(),
            RsaKeys::MAX_PEM_BYTES,
        )?;
        validation::secret(
            "public_key_pem",
            &new.public_key_pem,
            RsaKeys::MAX_PEM_BYTES,
        )?;
        if ![2048, 3072, 4096].contains(&new.key_size_bits) {
            return Err(DatabaseError::invalid(
                "key_size_bits",
                "must be 2048, 3072 or 4096",
            ));
        }
        let context = RSA_PRIVATE_KEY.context(None, None, &[&kid])?;
        let now = time::stored(time::now());
        self.ctx
            .write_sealed(|keyring| {
                let row = keys::ActiveModel {
                    kid: Set(kid.clone()),
                    private_key_pem: Set(keyring.seal(&context, &new.private_key_pem)?),
                    public_key_pem: Set(new.public_key_pem.clone()),
                    created_at: Set(now),
                    is_active: Set(false),
                    key_size_bits: Set(new.key_size_bits as i32),
                };
                Ok(keys::Entity::insert(row)
                    .on_conflict(
                        OnConflict::column(keys::Column::Kid)
                            .update_columns([
                                keys::Column::PrivateKeyPem,
                                keys::Column::PublicKeyPem,
                                keys::Column::KeySizeBits,
                            ])
                            .to_owned(),
                    )
                    .checked()
                    .build(self.ctx.backend()))
            })
            .await?;
        Ok(())
    }

    /// Every key pair, oldest first, decrypted.
    #[metered]
    #[instrument(skip_all, err(Display))]
    pub async fn load_all(&self) -> Result<Vec<RsaKeyPair>> {
        let rows = keys::Entity::find()
            .order_by_asc(keys::Column::CreatedAt)
            .order_by_asc(keys::Column::Kid)
            .all_in(&self.ctx)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.open(row).await?);
        }
        Ok(out)
    }

    /// The active key pair, if one is.
    #[metered]
    #[instrument(skip_all, err(Display))]
    pub async fn active(&self) -> Result<Option<RsaKeyPair>> {
        match keys::Entity::find()
            .filter(keys::Column::IsActive.eq(true))
            .all_in(&self.ctx)
            .await?
            .pop()
        {
            Some(row) => Ok(Some(self.open(row).await?)),
            None => Ok(None),
        }
    }

    /// Makes `kid` the one active key, in ONE statement over every row
    /// (`is_active = (kid = ?)`), so concurrent activations leave exactly
    /// one active. `NotFound` for an unknown kid (nothing changes).
    #[metered]
    #[instrument(skip_all, fields(kid = %kid), err(Display))]
    pub async fn set_active(&self, kid: &str) -> Result<()> {
        let exists = Query::select()
            .expr(Expr::val(1))
            .from(keys::Entity)
            .and_where(Expr::col(keys::Column::Kid).eq(kid))
            .to_owned();
        // Two activations lock the rows in their own order, so PostgreSQL
        // may pick one as a deadlock victim (and SQLite may stay busy past
        // its timeout): both are contention, and the statement is retried.
        let changed = retrying(RetryPolicy::default(), || async {
            Ok(keys::Entity::update_many()
                .col_expr(keys::Column::IsActive, Expr::col(keys::Column::Kid).eq(kid))
                .filter(Expr::exists(exists.clone()))
                .exec_in(&self.ctx)
                .await?
                .rows_affected)
        })
        .await?;
        expect_changed(changed, "rsa key", kid)
    }

    /// Deletes inactive key pairs created before `before` (retired signing
    /// keys whose tokens have expired); how many. A time outside the years
    /// 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter.
    #[metered]
    #[instrument(skip_all, err(Display))]
    pub async fn delete_retired(&self, before: DateTime<Utc>) -> Result<u64> {
        let before = time::checked("before", before)?;
        Ok(keys::Entity::delete_many()
            .filter(keys::Column::IsActive.eq(false))
            .filter(keys::Column::CreatedAt.lt(before))
            .exec_in(&self.ctx)
            .await?
            .rows_affected)
    }

    async fn open(&self, row: keys::Model) -> Result<RsaKeyPair> {
        let private = self
            .ctx
            .open(
                &RSA_PRIVATE_KEY.context(None, None, &[&row.kid])?,
                &row.private_key_pem,
            )
            .await?;
        Ok(RsaKeyPair {
            private_key_pem: private,
            public_key_pem: row.public_key_pem,
            created_at: row.created_at.to_utc(),
            is_active: row.is_active,
            key_size_bits: unsigned("rsa_keypairs.key_size_bits", row.key_size_bits)?,
            kid: row.kid,
        })
    }
}
