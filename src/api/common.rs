//! Building blocks shared by every kind: money, periods, dates, references and conditions.
//!
//! Money and dates travel as strings (`"5.00"`, `"2026-07-12"`): YAML numbers become floats on
//! the way through most tools, and a price must never be rounded by a parser.

use std::{borrow::Cow, fmt, str::FromStr};

use garde::Validate;
use rust_decimal::Decimal;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::patterns::NAME_RE;

/// The pattern every money amount follows: a non-negative decimal with at most four places.
pub const MONEY_PATTERN: &str = r"^[0-9]{1,12}(\.[0-9]{1,4})?$";

/// An amount of money in the tariff's currency: a decimal string such as `"5.00"`.
///
/// Never a float: the schema requires a string, and parsing keeps every digit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(pub Decimal);

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Money {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = regex_lite_money(s);
        if !valid {
            return Err(format!(
                "{s:?} is not an amount of money: use a non-negative decimal string with at most 4 decimal places, such as \"5.00\""
            ));
        }
        Decimal::from_str(s)
            .map(Money)
            .map_err(|e| format!("{s:?}: {e}"))
    }
}

/// Checks [`MONEY_PATTERN`] without compiling a regex on every call (the validator parses
/// tens of thousands of prices per second).
fn regex_lite_money(s: &str) -> bool {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let digits = |p: &str, max: usize| {
        !p.is_empty() && p.len() <= max && p.bytes().all(|b| b.is_ascii_digit())
    };
    digits(int, 12) && frac.is_none_or(|f| digits(f, 4))
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Money;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an amount of money as a quoted decimal string, such as \"5.00\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Money, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Visitor)
    }
}

impl JsonSchema for Money {
    fn schema_name() -> Cow<'static, str> {
        "Money".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": MONEY_PATTERN,
            "description": "An amount of money as a decimal string (never a number), e.g. \"5.00\"."
        })
    }
}

/// A calendar date (`YYYY-MM-DD`) in the provider's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Date(pub jiff::civil::Date);

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl JsonSchema for Date {
    fn schema_name() -> Cow<'static, str> {
        "Date".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": "date"})
    }
}

/// A timestamp (RFC 3339) written by the controller into status.
pub type Timestamp = String;

/// A billing period of a service. Prices, renewals and minimum periods are expressed in these.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Period {
    /// One month.
    #[serde(rename = "1m")]
    OneMonth,
    /// Three months.
    #[serde(rename = "3m")]
    ThreeMonths,
    /// Six months.
    #[serde(rename = "6m")]
    SixMonths,
    /// One year.
    #[serde(rename = "1y")]
    OneYear,
    /// Three years.
    #[serde(rename = "3y")]
    ThreeYears,
}

impl Period {
    pub const ALL: [Period; 5] = [
        Period::OneMonth,
        Period::ThreeMonths,
        Period::SixMonths,
        Period::OneYear,
        Period::ThreeYears,
    ];

    /// The length of the period in calendar months.
    pub fn months(self) -> u32 {
        match self {
            Period::OneMonth => 1,
            Period::ThreeMonths => 3,
            Period::SixMonths => 6,
            Period::OneYear => 12,
            Period::ThreeYears => 36,
        }
    }

    /// The spelling used in manifests (`1m`, `3m`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Period::OneMonth => "1m",
            Period::ThreeMonths => "3m",
            Period::SixMonths => "6m",
            Period::OneYear => "1y",
            Period::ThreeYears => "3y",
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A period for which ISPsystem sells a license (seed 003: trial, 1 month, 3 months, 1 year,
/// lifetime). These are the licensing server's periods, not the service's.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum LicensePeriod {
    /// The 14-day trial (`period=-100` at the licensing server).
    #[serde(rename = "trial")]
    Trial,
    /// One month.
    #[serde(rename = "1m")]
    OneMonth,
    /// Three months.
    #[serde(rename = "3m")]
    ThreeMonths,
    /// Six months.
    #[serde(rename = "6m")]
    SixMonths,
    /// One year.
    #[serde(rename = "1y")]
    OneYear,
    /// A license that never expires.
    #[serde(rename = "lifetime")]
    Lifetime,
}

/// A reference to another object of this project in the same namespace, by name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct LocalObjectReference {
    /// Name of the referenced object in the same namespace.
    #[garde(length(min = 1, max = 253), pattern(NAME_RE))]
    pub name: String,
}

impl LocalObjectReference {
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }
}

/// The status of a condition: `True`, `False` or `Unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
pub enum ConditionStatus {
    True,
    False,
    #[default]
    Unknown,
}

/// One observation of the object's state, in the shape `kubectl wait`, Argo CD and Flux read.
///
/// Types used: `Ready` (usable), `Synced` (the last reconcile reached the panel without error,
/// as in Crossplane), `Stalled` (an error that only a spec change can fix; kstatus reads it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type: `Ready`, `Synced` or `Stalled`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Whether the condition holds.
    pub status: ConditionStatus,
    /// A CamelCase word that says why, for machines and `kubectl get` columns.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// A sentence that says why, for people. Never contains a secret.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// When the status last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Timestamp>,
    /// The `metadata.generation` this condition was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// The last error met while reconciling, with the retry schedule, so a failing panel call is
/// visible rather than silent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct LastError {
    /// What failed, in words; never contains a secret.
    pub message: String,
    /// How many consecutive attempts have failed.
    pub attempts: u32,
    /// When the next attempt is scheduled (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Timestamp>,
}

/// The part of `status` every kind shares: what Argo CD, Flux (kstatus) and `kubectl wait` read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct CommonStatus {
    /// The `metadata.generation` this status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Synced` and `Stalled` conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The last error, its attempt count and when the next attempt is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<LastError>,
    /// Echo of the `hostplane.dev/reconcile-requested-at` annotation last acted upon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}
