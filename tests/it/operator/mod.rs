//! End-to-end tests of what the people who run the job see (issue 8): validate's plan, the
//! metrics file, CRM column rules and instance ARNs, JSON logs, completions and man pages. The
//! real binary against the in-process emulator, with the pipeline tests' support module.

mod columns;
mod commands;
mod metrics;
mod plan;
