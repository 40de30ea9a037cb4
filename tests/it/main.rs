//! The one integration-test binary.

mod emulator;
mod hardening;
mod pipeline;
mod support_python;
