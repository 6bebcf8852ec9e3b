//! `hostplane validate`: offline checks of manifests for CI pipelines and people.
//!
//! Each file is split into documents, each document parsed, decoded strictly into its kind,
//! checked on its own ([`rules`]) and then against the rest of the set ([`references`]).
//! Every problem names the file, document, line, object and field, and gives a plain reason.

pub mod decode;
pub mod documents;
pub mod references;
pub mod rules;
pub mod service_events;

use serde::Serialize;

use decode::{Header, Object};
pub use references::RefOptions;

/// A problem within one object: the field (a manifest path such as `spec.prices.1m`) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: Option<String>,
    pub reason: String,
}

impl FieldProblem {
    pub fn at(field: impl Into<String>, reason: impl Into<String>) -> Self {
        let field = field.into();
        Self {
            field: (!field.is_empty()).then_some(field),
            reason: reason.into(),
        }
    }
    pub fn root(reason: impl Into<String>) -> Self {
        Self {
            field: None,
            reason: reason.into(),
        }
    }
}

/// A problem, positioned for people and for machines (`--output json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file (or `-` for standard input).
    pub file: String,
    /// 1-based document number in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<usize>,
    /// 1-based line: of the syntax error, or where the document starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The field path, as written in the manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Why it is wrong, in plain words.
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(doc) = self.document {
            write!(f, ": document {doc}")?;
        }
        match (&self.kind, &self.name) {
            (Some(k), Some(n)) => write!(f, ", {k}/{n}")?,
            (Some(k), None) => write!(f, ", {k}")?,
            _ => {}
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// A named text to validate.
pub struct Source {
    pub name: String,
    pub text: String,
}

/// What to assume about the set.
#[derive(Clone, Debug)]
pub struct Options {
    /// Namespace of objects that name none (as `kubectl apply` would use).
    pub default_namespace: String,
    /// Rules about references.
    pub references: RefOptions,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            default_namespace: "default".into(),
            references: RefOptions::default(),
        }
    }
}

/// The outcome of a validation run.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub files: usize,
    pub documents: usize,
    /// Problems in file and document order, set-level problems after the object's own.
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A decoded object and where it came from.
#[derive(Debug)]
pub struct Entry {
    pub file: String,
    pub document: usize,
    pub line: usize,
    pub header: Header,
    pub object: Object,
}

impl Entry {
    pub fn kind(&self) -> &str {
        self.header.kind.as_deref().unwrap_or_default()
    }
    pub fn name(&self) -> &str {
        self.header.name.as_deref().unwrap_or_default()
    }
    fn problem(&self, field: Option<&str>, reason: String) -> Problem {
        Problem {
            file: self.file.clone(),
            document: Some(self.document),
            line: Some(self.line),
            kind: self.header.kind.clone(),
            namespace: Some(self.header.namespace.clone()),
            name: self.header.name.clone(),
            field: field.map(str::to_owned),
            reason,
        }
    }
}

/// What one object shows on its own, without the rest of the set.
#[derive(Debug)]
pub struct OneObject {
    pub header: Header,
    /// The decoded object; `None` when it could not be decoded (the problems say why).
    pub object: Option<Object>,
    /// The decoding problems, or the rules' problems of the decoded object.
    pub problems: Vec<FieldProblem>,
}

/// Every single-object rule: the header, strict decoding ([`decode`]) and the rules no schema
/// can say ([`rules`]). One function for `hostplane validate` and the admission webhook, so
/// the webhook refuses exactly what `validate` reports about an object on its own, with the
/// same field and reason; reference checks need the set and stay out.
pub fn check_one(value: &serde_json::Value, default_namespace: &str) -> OneObject {
    let header = decode::header(value, default_namespace);
    match decode::decode(value, &header) {
        Ok(object) => OneObject {
            problems: rules::check(&object),
            header,
            object: Some(object),
        },
        Err(problems) => OneObject {
            header,
            object: None,
            problems,
        },
    }
}

/// Validates every document of `sources` as one set.
pub fn validate(sources: &[Source], options: &Options) -> Report {
    validate_entries(sources, options, Vec::new()).0
}

/// [`validate`] with `context`: objects outside the manifests (the live cluster, for
/// `hostplane plan`) that references may resolve to. A context object that a manifest
/// replaces (same kind, namespace and name) is left out, and the context's own problems are
/// not reported. Gives back the manifests' objects that decoded.
pub fn validate_entries(
    sources: &[Source],
    options: &Options,
    context: Vec<Entry>,
) -> (Report, Vec<Entry>) {
    let mut report = Report {
        files: sources.len(),
        ..Report::default()
    };
    let mut entries = Vec::new();
    for source in sources {
        for doc in documents::split(&source.text) {
            report.documents += 1;
            let value = match documents::parse(&doc) {
                Ok(v) => v,
                Err(e) => {
                    report.problems.push(Problem {
                        file: source.name.clone(),
                        document: Some(doc.index),
                        line: e.line.or(Some(doc.start_line)),
                        kind: None,
                        namespace: None,
                        name: None,
                        field: None,
                        reason: format!("YAML syntax error: {}", e.message),
                    });
                    continue;
                }
            };
            let one = check_one(&value, &options.default_namespace);
            let mut entry = Entry {
                file: source.name.clone(),
                document: doc.index,
                line: doc.start_line,
                header: one.header,
                object: Object::Other,
            };
            for p in one.problems {
                report
                    .problems
                    .push(entry.problem(p.field.as_deref(), p.reason));
            }
            if let Some(object) = one.object {
                entry.object = object;
                entries.push(entry);
            }
        }
    }
    let own = entries.len();
    let key = |e: &Entry| {
        (
            e.kind().to_owned(),
            e.header.namespace.clone(),
            e.name().to_owned(),
        )
    };
    let replaced: std::collections::HashSet<_> = entries.iter().map(key).collect();
    entries.extend(context.into_iter().filter(|e| !replaced.contains(&key(e))));
    let mut found = Vec::new();
    references::check(&entries, &options.references, &mut found);
    let files: std::collections::HashSet<&str> = sources.iter().map(|s| s.name.as_str()).collect();
    report.problems.extend(
        found
            .into_iter()
            .filter(|p| files.contains(p.file.as_str())),
    );
    entries.truncate(own);
    (report, entries)
}
