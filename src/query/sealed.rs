//! Writing a sealed value: the statement runs under a data key that is
//! confirmed stored in the same transaction (see the `keys` module).

use sea_orm::Statement;

use super::begin::{begin_write, finish};
use super::context::Ctx;
use super::exec::Checked;
use crate::crypto::keyring::Keyring;
use crate::error::{DatabaseError, Result};
use crate::keys::store::check_key_stored;

impl Ctx<'_> {
    /// Runs the one statement `build` writes with the sealing keyring, so
    /// that no value lands under a data key that `retire` deleted while the
    /// write was on its way (a write can wait on a lock, or its task be
    /// descheduled, for longer than any time bound).
    ///
    /// The statement runs in a write transaction that first checks that
    /// the key it seals with is still stored: on SQLite `BEGIN IMMEDIATE`
    /// keeps `retire` out until the commit; on PostgreSQL the check holds a
    /// share lock on the key row, which `retire`'s delete waits for, and
    /// `retire` then counts this value and refuses. A key retired just
    /// before is `StaleKey`: the keys are reloaded and the write runs
    /// again. Inside a caller's transaction it runs there. Returns the rows
    /// the statement changed.
    pub(crate) async fn write_sealed(
        &self,
        build: impl Fn(&Keyring) -> Result<Checked<Statement>>,
    ) -> Result<u64> {
        self.writable("a sealed write")?;
        if self.in_transaction() {
            return self.write_sealed_here(&build).await;
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let noted = self.shared().replicas.writing(self.mark());
            let txn = begin_write(&self.conn()).await?;
            let here = self.inside(&txn);
            let outcome = here.write_sealed_here(&build).await;
            let done = finish(txn, outcome).await;
            noted.done();
            match done {
                Err(DatabaseError::StaleKey { .. }) if attempt < 3 => {
                    self.shared().keys().reload(&self.conn()).await?;
                }
                other => return other,
            }
        }
    }

    async fn write_sealed_here(
        &self,
        build: &impl Fn(&Keyring) -> Result<Checked<Statement>>,
    ) -> Result<u64> {
        let keyring = self.sealing_keyring().await?;
        check_key_stored(&self.conn(), keyring.active_version()).await?;
        build(&keyring)?.execute_in(self).await
    }
}
