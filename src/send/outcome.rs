//! What happened to each contact: the one record the report needs to write every output file.

use crate::connect::RequestDigest;
use crate::merge::Contact;
use crate::validate::Invalid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub contact: Contact,
    pub status: Status,
    /// Requests sent for this contact, throttled ones included.
    pub attempts: u32,
    /// The digest of the request body built for this contact, if the sender built one (the
    /// journal records it).
    pub digest: Option<RequestDigest>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Updated,
    /// Sent and not updated: the service refused it, or every allowed attempt failed.
    Failed(Failure),
    /// Never sent: the contact breaks one of the API's limits.
    Invalid(Invalid),
    /// Not sent in this run: it has no attributes (nothing to do), or the run stopped first.
    Skipped(Skip),
    /// Finished in an earlier session of this run (`--resume`), with the same request: updated
    /// (`None`) or refused for good (`Some`).
    AlreadyDone(Option<Failure>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// No attributes to send; not written to the retry file.
    Empty,
    /// The run stopped before this contact was done; written to the retry file.
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub error_type: String,
    pub http_status: Option<u16>,
    pub message: String,
    pub request_id: Option<String>,
    /// The service refused this contact for good (4xx): resending it cannot help, so a resumed run
    /// skips it. Otherwise (attempts used up, the run stopped) a resume sends it again.
    pub permanent: bool,
}

impl Outcome {
    /// An outcome for which no request body was built.
    pub fn new(contact: Contact, status: Status, attempts: u32) -> Outcome {
        Outcome { contact, status, attempts, digest: None }
    }

    /// Whether the contact belongs in the retry file (it was valid and is not updated).
    pub fn retryable(&self) -> bool {
        matches!(self.status, Status::Failed(_) | Status::Skipped(Skip::Stopped) | Status::AlreadyDone(Some(_)))
    }
}
