//! The one integration-test binary.

mod emulator;
mod hardening;
mod operator;
mod pipeline;
mod resume;
mod support_python;
