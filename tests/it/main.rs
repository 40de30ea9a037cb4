//! The one integration-test binary.

mod emulator;
mod operator;
mod pipeline;
mod support_python;
