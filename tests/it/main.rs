//! The one integration-test binary.

mod emulator;
mod support_python;
