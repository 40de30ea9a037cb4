//! The one integration-test binary.

mod emulator;
mod pipeline;
mod support_python;
