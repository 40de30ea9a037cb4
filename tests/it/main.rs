//! The one integration-test binary.

mod emulator;
mod operator;
mod pipeline;
mod resume;
mod support_python;
