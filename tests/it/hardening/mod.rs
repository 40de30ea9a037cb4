//! Hostile input, leaked secrets and the network: the bad-input corpus, quotes that swallow rows,
//! the reader's properties, secrets at the most verbose log level, private files, endpoint and TLS
//! checks, and credentials that expire mid-run. Each runs the real binary (or the library) against
//! the emulator.

mod corpus;
mod expiry;
mod files;
mod network;
mod properties;
mod quotes;
mod secrets;
