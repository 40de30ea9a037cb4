//! End-to-end tests of the main job: the real `connect-attrs` binary, run in a scratch directory
//! against the in-process emulator, checked against the emulator's stored state and the run
//! directory's files.

mod commands;
mod formats;
mod memory;
mod merge_scale;
mod rejected;
mod sending;
mod signals;
pub mod support;
mod systemic;
