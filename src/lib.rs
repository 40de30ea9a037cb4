//! connect-attrs: bulk-update Amazon Connect contact attributes from CRM-export CSVs.
//!
//! Data flows one way: `input` (read) -> `merge` -> `validate` -> `send` (through `connect`) ->
//! `report`. The core (`input`, `merge`, `validate`) knows nothing of HTTP; `run` wires the stages
//! together and `error` maps what stops a command to an exit code.

pub mod arn;
pub mod ceiling;
pub mod cli;
pub mod completions;
pub mod connect;
pub mod descriptors;
pub mod emulator;
pub mod error;
pub mod input;
pub mod logging;
pub mod merge;
pub mod plan;
pub mod prefetch;
pub mod report;
pub mod resume;
pub mod run;
pub mod send;
pub mod shutdown;
pub mod target;
pub mod validate;
pub mod wire;

pub use error::Error;
pub use run::run;
