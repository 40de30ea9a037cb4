//! What keeps a resume from sending a contact twice or losing the earlier session's outputs: one
//! session of a run at a time (the run directory's lock).

use crate::pipeline::support::connect_attrs;
use crate::resume::{args, first_run_under_way};

/// A resume started while the first run still sends is refused at once (exit 2), naming the run
/// directory and the first run's process; the first run goes on to its end, no contact sent twice.
#[test]
fn a_resume_while_the_run_still_sends_is_refused_and_sends_nothing() {
    let (scratch, handle, child) = first_run_under_way();
    let resumed = args(&handle, 1);
    let resumed: Vec<&str> = resumed.iter().map(String::as_str).collect();
    let refused = connect_attrs(scratch.path(), &resumed, None);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    let expected = format!("the run directory run is in use by another connect-attrs (pid {})", child.id());
    assert!(refused.stderr.contains(&expected), "{}", refused.stderr);
    assert!(refused.stdout.is_empty(), "no summary for a refused resume: {}", refused.stdout);

    let first = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_eq!(first.status.code(), Some(1), "the first run ends with its refused contacts: {stderr}");
    for contacts in handle.state().instances.values() {
        assert!(contacts.values().all(|c| c.updates == 1), "a contact was sent twice");
    }
    assert!(scratch.path().join("run/retry.csv").is_file(), "the first run's outputs are whole");
}
