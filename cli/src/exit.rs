//! Exit statuses and the one error type of the command.

use pierre_db::DatabaseError;

/// Exit statuses, as `--help` and the README list them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// Done.
    Ok = 0,
    /// The operation failed, or found problems (unreadable values, failed
    /// doctor checks).
    Failed = 1,
    /// The command line or the configuration is wrong.
    Usage = 2,
    /// Interrupted with Ctrl-C after a committed batch: run it again to
    /// resume.
    Interrupted = 130,
}

impl From<Code> for std::process::ExitCode {
    fn from(code: Code) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}

/// Why a command failed: one line, and the exit status.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: Code,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: Code::Usage,
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: Code::Failed,
        }
    }
}

impl From<DatabaseError> for Failure {
    fn from(err: DatabaseError) -> Self {
        let code = match err {
            DatabaseError::Config(_) => Code::Usage,
            _ => Code::Failed,
        };
        Self {
            // One line: the library's messages never span lines, but a
            // driver's may.
            message: err.to_string().replace('\n', " "),
            code,
        }
    }
}

impl From<sea_orm::DbErr> for Failure {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::failed(err.to_string().replace('\n', " "))
    }
}

pub type Result<T> = std::result::Result<T, Failure>;
