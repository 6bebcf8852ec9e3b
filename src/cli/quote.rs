//! `hostplane quote -f PATH...`: the quote of every `HostingService` in a set of manifests —
//! order price, setup fee, renewal price, paid-until, the late fee if renewed on `--at`, and
//! each declared tariff change and resource change with what it cost —
//! from the same billing module the controller writes `status.quote` with.
//!
//! Manifests are read like `validate` reads them (files, folders, `-`); each service is priced
//! against the tariff of the same name and namespace in the set. A service or tariff that breaks
//! its own rules is not quoted (its figures would mean nothing); problems between objects
//! (a missing client or Secret) are `validate`'s business and do not stop a quote.
//!
//! Exit codes: 0 every service quoted, 1 some service could not be (named, with the reason),
//! 2 the command could not run (unreadable input, no service in it).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use crate::api::common::{Date, Period};
use crate::api::hosting_service::Quote;
use crate::api::{HostingService, Tariff};
use crate::billing::{self, Late, Term};
use crate::validation::decode::{self, Object};
use crate::validation::{Source, documents, rules};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files, folders, or `-` for standard input (as `kubectl apply -f`); repeatable.
    #[arg(short = 'f', long = "filename", required = true)]
    files: Vec<PathBuf>,
    /// Also read the subfolders of folders (as `kubectl apply -R`).
    #[arg(long, short = 'R')]
    recursive: bool,
    /// The day a renewal is quoted for (its late fee), as YYYY-MM-DD; today in the local time
    /// zone when unset.
    #[arg(long)]
    at: Option<jiff::civil::Date>,
    /// `text` (a block per service) or `json`.
    #[arg(long, short, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Namespace of objects that do not name one.
    #[arg(long, short, default_value = "default")]
    namespace: String,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Output {
    Text,
    Json,
}

/// The quote of one service, or why there is none.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    namespace: String,
    name: String,
    tariff: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    period: Option<Period>,
    #[serde(skip_serializing_if = "Option::is_none")]
    paid_until: Option<Date>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quote: Option<Quote>,
    /// A renewal of the service's period paid on `at`.
    #[serde(skip_serializing_if = "Option::is_none")]
    renewal_at: Option<Term>,
    /// Why no renewal can be paid on `at`.
    #[serde(skip_serializing_if = "Option::is_none")]
    renewal_error: Option<String>,
    /// Why the service could not be quoted.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct Report<'a> {
    at: Date,
    services: &'a [Row],
}

/// What the set holds, by (namespace, name); an object that could not be read keeps why.
#[derive(Default)]
struct Set {
    tariffs: HashMap<(String, String), Result<Tariff, String>>,
    services: Vec<(String, String, Result<HostingService, String>)>,
    warnings: Vec<String>,
}

pub fn run(args: Args) -> ExitCode {
    let sources = match super::validate::read_sources(&args.files, args.recursive) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hostplane quote: {e}");
            return ExitCode::from(2);
        }
    };
    let set = read_set(&sources, &args.namespace);
    for w in &set.warnings {
        eprintln!("hostplane quote: warning: {w}");
    }
    if set.services.is_empty() {
        eprintln!("hostplane quote: no HostingService in the input: nothing to quote");
        return ExitCode::from(2);
    }
    // The one clock read of the billing path: the CLI's default for `--at`.
    let at = Date(args.at.unwrap_or_else(|| jiff::Zoned::now().date()));
    let rows: Vec<Row> = set
        .services
        .iter()
        .map(|(ns, name, service)| quote_one(&set, ns, name, service, at))
        .collect();
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&Report {
                at,
                services: &rows
            })
            .expect("quotes serialize")
        ),
        Output::Text => {
            for row in &rows {
                print!("{}", text(row, at));
            }
        }
    }
    let failed = rows.iter().filter(|r| r.error.is_some()).count();
    eprintln!(
        "{} service(s) quoted on {at}{}",
        rows.len() - failed,
        if failed > 0 {
            format!(", {failed} could not be")
        } else {
            String::new()
        }
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Splits, parses and decodes every document, keeping tariffs and services.
fn read_set(sources: &[Source], default_namespace: &str) -> Set {
    let mut set = Set::default();
    for source in sources {
        for doc in documents::split(&source.text) {
            let value = match documents::parse(&doc) {
                Ok(v) => v,
                Err(e) => {
                    let line = e.line.unwrap_or(doc.start_line);
                    set.warnings.push(format!(
                        "{}:{line}: document {} skipped: YAML syntax error: {}",
                        source.name, doc.index, e.message
                    ));
                    continue;
                }
            };
            let header = decode::header(&value, default_namespace);
            let key = (
                header.namespace.clone(),
                header.name.clone().unwrap_or_default(),
            );
            let decoded = decode::decode(&value, &header).and_then(|object| {
                let problems = rules::check(&object);
                if problems.is_empty() {
                    Ok(object)
                } else {
                    Err(problems)
                }
            });
            let decoded = decoded.map_err(|problems| {
                let reasons: Vec<String> = problems
                    .iter()
                    .map(|p| match &p.field {
                        Some(f) => format!("{f}: {}", p.reason),
                        None => p.reason.clone(),
                    })
                    .collect();
                format!(
                    "{} document {} is invalid ({}); run hostplane validate",
                    source.name,
                    doc.index,
                    reasons.join("; ")
                )
            });
            match (header.kind.as_deref(), decoded) {
                (_, Ok(Object::Tariff(t))) => {
                    set.tariffs.insert(key, Ok(*t));
                }
                (_, Ok(Object::HostingService(s))) => set.services.push((key.0, key.1, Ok(*s))),
                (Some("Tariff"), Err(e)) => {
                    set.tariffs.insert(key, Err(e));
                }
                (Some("HostingService"), Err(e)) => set.services.push((key.0, key.1, Err(e))),
                _ => {}
            }
        }
    }
    set
}

fn quote_one(
    set: &Set,
    ns: &str,
    name: &str,
    service: &Result<HostingService, String>,
    at: Date,
) -> Row {
    let mut row = Row {
        namespace: ns.to_owned(),
        name: name.to_owned(),
        tariff: String::new(),
        period: None,
        paid_until: None,
        quote: None,
        renewal_at: None,
        renewal_error: None,
        error: None,
    };
    let service = match service {
        Ok(s) => s,
        Err(e) => {
            row.error = Some(e.clone());
            return row;
        }
    };
    row.tariff = service.spec.tariff_ref.name.clone();
    row.period = Some(service.spec.period);
    let tariff = match set.tariffs.get(&(ns.to_owned(), row.tariff.clone())) {
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            row.error = Some(format!("its tariff {:?} cannot be read: {e}", row.tariff));
            return row;
        }
        None => {
            row.error = Some(format!(
                "tariff {:?} is not in the input (namespace {ns})",
                row.tariff
            ));
            return row;
        }
    };
    let tariffs = |name: &str| match set.tariffs.get(&(ns.to_owned(), name.to_owned())) {
        Some(Ok(t)) => Some(&t.spec),
        _ => None,
    };
    // Offline, an order already placed looks like a new one: every declared sale is judged.
    let history = billing::history::History::new(&tariff.spec, &tariffs, &service.spec);
    if let Err(e) = billing::policy::check_declared_sales(&history) {
        row.error = Some(e.to_string());
        return row;
    }
    match billing::quote::quote_with_events(&tariff.spec, &tariffs, &service.spec, at) {
        Ok(q) => {
            row.paid_until = Some(q.paid.paid_until());
            row.quote = Some(q.quote);
            match q.renewal_on_day {
                Ok(term) => row.renewal_at = Some(term),
                Err(e) => row.renewal_error = Some(e.to_string()),
            }
        }
        Err(e) => row.error = Some(e.to_string()),
    }
    row
}

/// A block per service, for people.
fn text(row: &Row, at: Date) -> String {
    let mut out = format!("{} (namespace {}", row.name, row.namespace);
    let (Some(q), Some(period), Some(paid_until)) = (&row.quote, row.period, row.paid_until) else {
        let reason = row.error.as_deref().unwrap_or("unknown");
        if !row.tariff.is_empty() {
            out += &format!(", tariff {}", row.tariff);
        }
        return format!("{out}): cannot be quoted: {reason}\n");
    };
    let c = &q.currency;
    out += &format!("): tariff {}, period {period}\n", row.tariff);
    out += &format!("  order price    {} {c}\n", q.order_price);
    out += &format!("  setup fee      {} {c}\n", q.setup_fee);
    out += &format!("  renewal price  {} {c}\n", q.renewal_price);
    out += &format!("  paid until     {paid_until}\n");
    let late = match (&row.renewal_at, &row.renewal_error) {
        (_, Some(e)) => format!("no renewal possible on {at}: {e}"),
        (Some(Term { late: Some(l), .. }), _) => late_text(l, at),
        _ => format!("none if renewed on {at} (in time)"),
    };
    out += &format!("  late fee       {late}\n");
    for e in &q.events {
        let paid_until = e
            .paid_until
            .map_or(String::new(), |d| format!(", paid until {d}"));
        out += &format!(
            "  {} on {}: charge {} {c}, refund {} {c}{paid_until} — {} ({})\n",
            e.type_, e.day, e.charge, e.refund, e.detail, e.field
        );
    }
    out
}

fn late_text(late: &Late, at: Date) -> String {
    let days = format!("{} day(s) late", late.days);
    if late.fee.0.is_zero() && !late.restarts_on_payment_day {
        format!(
            "none if renewed on {at} ({days}; the new term runs from the expiry, {})",
            late.expired_on
        )
    } else if late.fee.0.is_zero() {
        format!("none if renewed on {at} ({days})")
    } else {
        format!("{} if renewed on {at} ({days})", late.fee)
    }
}
