//! The one integration-test binary.

mod emulator;
mod hardening;
mod operator;
mod pipeline;
mod resume;
mod resume_guards;
mod support_python;
