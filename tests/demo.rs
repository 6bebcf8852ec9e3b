//! The demo's promise: every example service goes Ready on a real local API server with the
//! seeded simulators. Runs the demo's own setup and wait (what `hostplane demo` does before
//! it prints the table), so a missing catalogue entry in the simulators fails here. Fails,
//! never skips, when the API server cannot start.

use std::path::Path;
use std::time::Duration;

use hostplane::cli::{demo, demo_ready};
use hostplane::testbed;

#[test]
fn every_example_service_goes_ready() {
    let cluster = testbed::shared();
    // Tests may use the checkout's path; the binary reads --examples at run time.
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let sources = demo::read_examples(&examples).expect("examples");
    let namespace = "demo-examples";
    demo::setup(cluster, &sources, namespace).expect("demo setup");
    if let Err(e) = demo_ready::wait(cluster, namespace, Duration::from_secs(240)) {
        panic!("{e:#}");
    }
}

#[test]
fn a_missing_examples_folder_says_what_to_do() {
    let Err(e) = demo::read_examples(Path::new("/nonexistent/examples")) else {
        panic!("a missing folder must be an error");
    };
    let text = format!("{e:#}");
    assert!(text.contains("/nonexistent/examples"), "{text}");
    assert!(text.contains("--examples DIR"), "{text}");
}
