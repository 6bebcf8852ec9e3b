//! `cargo bench --bench validate`: how long `hostplane validate` takes for a large set.
//!
//! Builds a namespace of 10,000 documents (the example modules and tariffs, 1,000 clients and
//! their services), validates it several times in-process and once through the binary, and
//! prints the figures. Not a test: nothing here asserts a time.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hostplane::validation::{self, Options, Source};

const DOCUMENTS: usize = 10_000;
const CLIENTS: usize = 1_000;

fn corpus() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut text = String::new();
    for file in [
        "01-secrets.yaml",
        "02-processing-modules.yaml",
        "03-tariffs.yaml",
    ] {
        text.push_str(&std::fs::read_to_string(root.join(file)).unwrap());
        text.push_str("\n---\n");
    }
    let base = text.matches("\nkind: ").count() + usize::from(text.starts_with("kind: "));
    for c in 0..CLIENTS {
        write!(
            text,
            "apiVersion: hostplane.dev/v1alpha1\nkind: Client\nmetadata:\n  name: client-{c}\nspec:\n  displayName: Client {c}\n  email: client{c}@example.org\n  accountId: {}\n---\n",
            10_000 + c
        )
        .unwrap();
    }
    let tariffs = [
        (
            "hosting-start",
            "1m",
            "  resources:\n    - name: diskSpace\n      quantity: 2048\n",
        ),
        (
            "license-ispmanager-lite",
            "1y",
            "  licenseIp: 203.0.113.9\n",
        ),
    ];
    for s in 0..DOCUMENTS - CLIENTS - base {
        let (tariff, period, extra) = tariffs[s % tariffs.len()];
        write!(
            text,
            "apiVersion: hostplane.dev/v1alpha1\nkind: HostingService\nmetadata:\n  name: svc-{s}\nspec:\n  tariffRef:\n    name: {tariff}\n  clientRef:\n    name: client-{}\n  period: {period}\n  startDate: \"2026-11-02\"\n  renewals:\n    - period: {period}\n      paidOn: \"2026-11-30\"\n{extra}---\n",
            s % CLIENTS
        )
        .unwrap();
    }
    text
}

fn main() {
    let text = corpus();
    let sources = [Source {
        name: "bench.yaml".into(),
        text: text.clone(),
    }];
    let mut runs: Vec<Duration> = Vec::new();
    let mut documents = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let report = validation::validate(&sources, &Options::default());
        runs.push(start.elapsed());
        assert!(
            report.ok(),
            "the benchmark corpus must be valid: {:?}",
            report.problems.first()
        );
        documents = report.documents;
    }
    runs.sort();
    let median = runs[runs.len() / 2];
    println!(
        "validate: {documents} documents, {} KiB of YAML",
        text.len() / 1024
    );
    println!(
        "  in-process: best {:.1} ms, median {:.1} ms, {:.0} documents/s (median)",
        runs[0].as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3,
        documents as f64 / median.as_secs_f64()
    );

    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hostplane"))
        .args(["validate", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run hostplane");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let status = child.wait().unwrap();
    println!(
        "  binary (`hostplane validate -`, with process start): {:.1} ms, exit {}",
        start.elapsed().as_secs_f64() * 1e3,
        status.code().unwrap_or(-1)
    );
}
