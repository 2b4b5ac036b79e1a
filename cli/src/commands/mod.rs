//! One module per command.

pub mod adopt;
pub mod backup;
pub mod copy;
pub mod doctor;
pub mod keys;
pub mod migrate;
pub mod restore;
pub mod rls;
pub mod verify;
