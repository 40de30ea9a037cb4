//! connect-attrs: bulk-update Amazon Connect contact attributes from CRM-export CSVs.

pub mod validate;
pub mod wire;
pub mod input;
pub mod merge;
pub mod connect;
pub mod send;
pub mod report;
