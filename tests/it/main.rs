//! The one integration-test binary.

mod emulator;
mod pipeline;
mod resume;
mod support_python;
