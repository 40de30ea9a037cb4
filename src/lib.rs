//! connect-attrs: bulk-update Amazon Connect contact attributes from CRM-export CSVs.

pub mod emulator;
pub mod validate;
pub mod wire;
