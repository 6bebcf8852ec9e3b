//! The validator on the shipped manifests and through the real binary: the examples pass,
//! each invalid example fails once for the reason its header names, exit codes and output
//! formats are what CI pipelines rely on, and no input makes it panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use hostplane::validation::{self, Options, Source};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn source(path: &Path) -> Source {
    Source {
        name: path.display().to_string(),
        text: std::fs::read_to_string(path).unwrap(),
    }
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn hostplane() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hostplane"))
}

/// The value of a `# NAME: value` header line.
fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("# {name}: ")))
}

#[test]
fn the_examples_validate_without_a_problem() {
    let sources: Vec<Source> = yaml_files(&root().join("examples"))
        .iter()
        .map(|p| source(p))
        .collect();
    assert!(sources.len() >= 6);
    let report = validation::validate(&sources, &Options::default());
    assert!(report.ok(), "{:#?}", report.problems);
    assert!(
        report.documents >= 25,
        "a realistic namespace: {} documents",
        report.documents
    );
}

#[test]
fn the_examples_cover_every_kind_and_product() {
    let text: String = yaml_files(&root().join("examples"))
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    for needle in [
        "kind: ProcessingModule",
        "kind: Tariff",
        "kind: Client",
        "kind: HostingService",
        "kind: LicensePool",
        "kind: ServerPool",
        "kind: Secret",
        "type: ISPmanager",
        "type: VMmanager",
        "type: Licensing",
        "productType: SharedHosting",
        "productType: VirtualServer",
        "productType: SoftwareLicense",
        "controlPanelLicense:",
    ] {
        assert!(text.contains(needle), "examples/ lack {needle:?}");
    }
}

#[test]
fn each_invalid_example_fails_once_for_its_reason() {
    let files = yaml_files(&root().join("examples/invalid"));
    assert!(files.len() >= 20, "{} invalid examples", files.len());
    for file in files {
        let src = source(&file);
        let field = header(&src.text, "expect-field")
            .unwrap_or_else(|| panic!("{}: no expect-field header", file.display()));
        let reason = header(&src.text, "expect-reason")
            .unwrap_or_else(|| panic!("{}: no expect-reason header", file.display()));
        let report = validation::validate(std::slice::from_ref(&src), &Options::default());
        assert_eq!(
            report.problems.len(),
            1,
            "{}: {:#?}",
            file.display(),
            report.problems
        );
        let problem = &report.problems[0];
        let want_field = (field != "(none)").then(|| field.to_owned());
        assert_eq!(problem.field, want_field, "{}: {problem}", file.display());
        assert!(
            problem.reason.contains(reason),
            "{}: {problem:?} lacks {reason:?}",
            file.display()
        );
        assert!(
            problem.line.is_some() && problem.document.is_some(),
            "{problem:?}"
        );
    }
}

#[test]
fn the_binary_exits_0_for_the_examples_and_1_naming_the_field_for_each_invalid_file() {
    let ok = hostplane()
        .arg("validate")
        .arg(root().join("examples"))
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    for file in yaml_files(&root().join("examples/invalid")) {
        let text = std::fs::read_to_string(&file).unwrap();
        let out = hostplane().arg("validate").arg(&file).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", file.display());
        let stdout = String::from_utf8_lossy(&out.stdout);
        let field = header(&text, "expect-field").unwrap();
        if field != "(none)" {
            assert!(
                stdout.contains(&format!(": {field}: ")),
                "{}: {stdout}",
                file.display()
            );
        }
        assert!(
            stdout.contains(&file.display().to_string()),
            "names the file: {stdout}"
        );
    }
}

#[test]
fn json_output_carries_the_same_problems() {
    let file = root().join("examples/invalid/resource-included-above-max.yaml");
    let out = hostplane()
        .args(["validate", "--output", "json"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &report["problems"][0];
    assert_eq!(p["field"], "spec.resources[0].included");
    assert_eq!(p["kind"], "Tariff");
    assert_eq!(p["name"], "start");
    assert_eq!(p["document"], 3);
    assert_eq!(report["documents"], 3);
}

#[test]
fn standard_input_is_read_with_a_dash() {
    let mut child = hostplane()
        .args(["validate", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"apiVersion: hostplane.dev/v1alpha1\nkind: Client\nmetadata: {name: a}\nspec: {displayName: A, email: nope}\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("-:1: document 1, Client/a: spec.email: ")
    );
}

#[test]
fn folders_are_read_like_kubectl_apply_f_and_recursively_with_r() {
    let flat = hostplane()
        .arg("validate")
        .arg(root().join("examples"))
        .output()
        .unwrap();
    assert_eq!(
        flat.status.code(),
        Some(0),
        "examples/invalid is not read without -R"
    );
    let deep = hostplane()
        .args(["validate", "-R"])
        .arg(root().join("examples"))
        .output()
        .unwrap();
    assert_eq!(
        deep.status.code(),
        Some(1),
        "with -R the invalid examples are read too"
    );
}

#[test]
fn an_unreadable_path_exits_2() {
    let out = hostplane()
        .args(["validate", "/nonexistent/manifests.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/manifests.yaml")
    );
}

#[test]
fn external_secrets_lifts_only_the_secret_requirement() {
    let sources: Vec<Source> = yaml_files(&root().join("examples"))
        .iter()
        .filter(|p| !p.ends_with("01-secrets.yaml"))
        .map(|p| source(p))
        .collect();
    let strict = validation::validate(&sources, &Options::default());
    assert!(
        strict
            .problems
            .iter()
            .all(|p| p.field.as_deref() == Some("spec.credentialsSecretRef")),
        "{:#?}",
        strict.problems
    );
    assert!(!strict.ok());
    let mut options = Options::default();
    options.references.external_secrets = true;
    assert!(validation::validate(&sources, &options).ok());
}

/// Invalid manifests never panic the validator: every prefix of every shipped manifest, and
/// every manifest with each line removed, is validated.
#[test]
fn no_truncation_or_missing_line_makes_it_panic() {
    let mut files = yaml_files(&root().join("examples"));
    files.extend(yaml_files(&root().join("examples/invalid")));
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let cuts = (0..text.len())
            .step_by(7)
            .filter(|&i| text.is_char_boundary(i));
        for cut in cuts {
            let src = Source {
                name: "cut".into(),
                text: text[..cut].to_owned(),
            };
            let _ = validation::validate(&[src], &Options::default());
        }
        let lines: Vec<&str> = text.lines().collect();
        for skip in 0..lines.len() {
            let mutated: String = lines
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, l)| format!("{l}\n"))
                .collect();
            let _ = validation::validate(
                &[Source {
                    name: "line".into(),
                    text: mutated,
                }],
                &Options::default(),
            );
        }
    }
}

/// The regeneration command, for the failure messages.
const CRDGEN: &str = "cargo run -- crdgen --out crds --out charts/hostplane/files/crds";

#[test]
fn crds_folder_is_what_crdgen_generates() {
    // crds/ for kubectl and the tests; the Helm chart's copy, which it installs.
    for folder in ["crds", "charts/hostplane/files/crds"] {
        let dir = root().join(folder);
        let generated = hostplane::cli::crd_files();
        assert_eq!(generated.len(), 6);
        for (name, yaml) in generated {
            let on_disk = std::fs::read_to_string(dir.join(&name)).unwrap_or_default();
            assert!(on_disk == yaml, "{folder}/{name} is stale: run `{CRDGEN}`");
        }
        assert_eq!(
            yaml_files(&dir).len(),
            6,
            "{folder}/ holds only generated files"
        );
    }
    let check = hostplane()
        .args([
            "crdgen",
            "--check",
            "crds",
            "--check",
            "charts/hostplane/files/crds",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(0));
    let stale = tempfile::tempdir().unwrap();
    let check = hostplane()
        .args(["crdgen", "--check", "crds", "--check"])
        .arg(stale.path())
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1), "an empty folder is stale");
}
