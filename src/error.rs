//! The errors that stop a command before or instead of its normal end, and the one place that
//! maps them to exit codes. Per-contact failures are not errors: they are outcomes.

use crate::connect::credentials::CredentialsError;
use crate::input::InputError;
use crate::merge::MergeError;
use crate::report::RunDirError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag or combination of flags that cannot work; the message names the flag and the fix.
    #[error("{0}")]
    Usage(String),
    /// Region, endpoint or similar configuration that is missing or wrong.
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    #[error(transparent)]
    Merge(#[from] MergeError),
    /// A signal before sending began: nothing was sent.
    #[error("{0}")]
    Interrupted(String),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Exit code 2: usage, configuration, input or systemic; 3 when stopped by a signal.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Interrupted(_) => exit::STOPPED,
            _ => exit::ERROR,
        }
    }
}

/// Exit codes of a command that ran to its end (or was stopped).
pub mod exit {
    /// Every contact updated (or, for `validate`, every contact valid).
    pub const OK: u8 = 0;
    /// Some contacts not updated: see errors.csv and retry.csv.
    pub const SOME_NOT_UPDATED: u8 = 1;
    /// Usage, configuration, input or systemic error.
    pub const ERROR: u8 = 2;
    /// Stopped early (signal or deadline); state saved.
    pub const STOPPED: u8 = 3;
}
