//! `hostplane validate PATH...`: reads files, folders (their `.yaml`/`.yml` files in name order;
//! subfolders only with `--recursive`, as `kubectl apply -f` does) and `-` (standard input),
//! validates them as one set and reports.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::validation::{self, Options, RefOptions, Source};

/// Where manifests come from, as `kubectl apply -f` takes them (shared with `plan`).
#[derive(clap::Args, Debug)]
pub struct Manifests {
    /// Files, folders, or `-` for standard input.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Also read the subfolders of folders (as `kubectl apply -R`).
    #[arg(long, short = 'R')]
    pub recursive: bool,
}

impl Manifests {
    pub fn read(&self) -> Result<Vec<Source>, String> {
        read_sources(&self.paths, self.recursive)
    }
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    manifests: Manifests,
    /// `text` (one line per problem) or `json`.
    #[arg(long, short, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Namespace of objects that do not name one.
    #[arg(long, short, default_value = "default")]
    namespace: String,
    /// Secrets are managed outside these manifests (sealed or external secrets): do not
    /// require the Secrets that modules reference.
    #[arg(long)]
    external_secrets: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Output {
    Text,
    Json,
}

/// Reads every input; an unreadable path stops the run (exit 2) rather than passing silently.
pub fn read_sources(paths: &[PathBuf], recursive: bool) -> Result<Vec<Source>, String> {
    let mut sources = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            sources.push(Source {
                name: "-".into(),
                text,
            });
        } else if path.is_dir() {
            let mut files = Vec::new();
            collect_yaml(path, recursive, &mut files)
                .map_err(|e| format!("cannot read folder {}: {e}", path.display()))?;
            files.sort();
            for file in files {
                sources.push(read_file(&file)?);
            }
        } else {
            sources.push(read_file(path)?);
        }
    }
    Ok(sources)
}

fn read_file(path: &Path) -> Result<Source, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(Source {
        name: path.display().to_string(),
        text,
    })
}

fn collect_yaml(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            if recursive {
                collect_yaml(&path, recursive, out)?;
            }
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

pub fn run(args: Args) -> ExitCode {
    let sources = match args.manifests.read() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hostplane validate: {e}");
            return ExitCode::from(2);
        }
    };
    let options = Options {
        default_namespace: args.namespace,
        references: RefOptions {
            external_secrets: args.external_secrets,
            placed_order: false,
        },
    };
    let report = validation::validate(&sources, &options);
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("report serializes")
        ),
        Output::Text => {
            for p in &report.problems {
                println!("{p}");
            }
            let verdict = if report.ok() {
                "ok".to_owned()
            } else {
                format!("{} problem(s)", report.problems.len())
            };
            eprintln!(
                "{} file(s), {} document(s): {verdict}",
                report.files, report.documents
            );
        }
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
