//! `where` filters of VMmanager 6 list queries (reference §4.3).
//!
//! The panel filters lists server-side with an expression such as
//! `((consul_id EQ '123') AND (name EQ 'host_create'))`, sent as the `where` query parameter with
//! spaces as `+` and parentheses left as they are. A typed builder keeps callers from gluing
//! strings together, so a client e-mail or host name can never change the shape of the filter:
//! values are always quoted and their quotes and backslashes escaped.

use std::fmt;

/// A comparison operator the panel understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// "Contains / pattern": SQL-like `%` wildcards (`name CP '%foo%'`).
    Cp,
}

impl Op {
    fn keyword(self) -> &'static str {
        match self {
            Op::Eq => "EQ",
            Op::Ne => "NE",
            Op::Cp => "CP",
        }
    }
}

/// A filter expression: one comparison, or several joined by `AND` / `OR`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Where {
    /// `field OP 'value'`; nested fields use dots (`account.id`).
    Cond {
        /// Field name, e.g. `email` or `account.id`.
        field: String,
        /// The comparison.
        op: Op,
        /// The value, always sent quoted.
        value: String,
    },
    /// All of the parts.
    And(Vec<Where>),
    /// Any of the parts.
    Or(Vec<Where>),
}

impl Where {
    /// `field EQ 'value'`.
    pub fn eq(field: &str, value: impl ToString) -> Self {
        Self::cond(field, Op::Eq, value)
    }

    /// `field NE 'value'`.
    pub fn ne(field: &str, value: impl ToString) -> Self {
        Self::cond(field, Op::Ne, value)
    }

    /// `field CP 'pattern'` (`%` matches any run of characters).
    pub fn cp(field: &str, pattern: impl ToString) -> Self {
        Self::cond(field, Op::Cp, pattern)
    }

    fn cond(field: &str, op: Op, value: impl ToString) -> Self {
        Where::Cond {
            field: field.to_owned(),
            op,
            value: value.to_string(),
        }
    }

    /// `(self AND other)`.
    pub fn and(self, other: Where) -> Self {
        match self {
            Where::And(mut parts) => {
                parts.push(other);
                Where::And(parts)
            }
            first => Where::And(vec![first, other]),
        }
    }

    /// `(self OR other)`.
    pub fn or(self, other: Where) -> Self {
        match self {
            Where::Or(mut parts) => {
                parts.push(other);
                Where::Or(parts)
            }
            first => Where::Or(vec![first, other]),
        }
    }

    /// The value of the `where` query parameter, already encoded for the URL: spaces become
    /// `+`, parentheses and quotes stay, everything else outside the unreserved set is
    /// percent-encoded (so a `+` or `%` in an e-mail or pattern survives the trip).
    pub fn to_query_value(&self) -> String {
        encode_query_value(&self.to_string())
    }
}

/// The readable form, with spaces: `((consul_id EQ '123') AND (name EQ 'host_create'))`.
impl fmt::Display for Where {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Where::Cond { field, op, value } => {
                write!(f, "({field} {} '{}')", op.keyword(), escape_value(value))
            }
            Where::And(parts) => join(f, parts, "AND"),
            Where::Or(parts) => join(f, parts, "OR"),
        }
    }
}

fn join(f: &mut fmt::Formatter<'_>, parts: &[Where], keyword: &str) -> fmt::Result {
    if let [single] = parts {
        return write!(f, "{single}");
    }
    f.write_str("(")?;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            write!(f, " {keyword} ")?;
        }
        write!(f, "{part}")?;
    }
    f.write_str(")")
}

/// Backslash-escapes quotes and backslashes inside a quoted value. The panel's own escaping
/// rule is not documented (reference §8); this one is what the simulator accepts, and no
/// value the operator sends (e-mails, host names, ids) normally contains either character.
fn escape_value(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\'', "\\'")
}

fn encode_query_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 8);
    for byte in raw.bytes() {
        match byte {
            b' ' => out.push('+'),
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b'('
            | b')'
            | b'\'' => out.push(byte as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_filter_matches_the_reference_example() {
        let filter = Where::eq("consul_id", 123).and(Where::eq("name", "host_create"));
        assert_eq!(
            filter.to_query_value(),
            "((consul_id+EQ+'123')+AND+(name+EQ+'host_create'))"
        );
    }

    #[test]
    fn single_condition_and_nested_field() {
        assert_eq!(
            Where::eq("account.id", 5).to_query_value(),
            "(account.id+EQ+'5')"
        );
    }

    #[test]
    fn email_characters_are_percent_encoded() {
        assert_eq!(
            Where::eq("email", "a+b@x.org").to_query_value(),
            "(email+EQ+'a%2Bb%40x.org')"
        );
        assert_eq!(
            Where::cp("name", "%web%").to_query_value(),
            "(name+CP+'%25web%25')"
        );
    }

    #[test]
    fn quotes_cannot_break_out_of_a_value() {
        let filter = Where::eq("name", "x') OR (id NE '0");
        assert_eq!(filter.to_string(), r"(name EQ 'x\') OR (id NE \'0')");
    }

    #[test]
    fn or_chains_flatten() {
        let filter = Where::eq("id", 1)
            .or(Where::eq("id", 2))
            .or(Where::eq("id", 3));
        assert_eq!(
            filter.to_string(),
            "((id EQ '1') OR (id EQ '2') OR (id EQ '3'))"
        );
    }
}
