//! The simulator's reading of VMmanager 6 `where` filters (reference §4.3, §7).
//!
//! Grammar, after URL decoding (`+` is a space):
//! `expr := term (("AND" | "OR") term)*`, `term := "(" expr ")" | field OP value`,
//! `OP := EQ | NE | CP | GT | LT`, `value := 'quoted' | bare`. `AND` binds tighter than `OR`.
//! Fields may be nested (`account.id`). Values compare as text, so `id EQ '5'` and `id EQ 5`
//! both match the number 5, as clients send ids both ways. `CP` is a SQL-like pattern with `%`;
//! a pattern without `%` matches as "contains" (both readings of the reference).

use serde_json::Value;

/// A parsed filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `field OP value`.
    Cond {
        /// Dotted field path.
        field: String,
        /// Operator keyword, upper-case.
        op: CmpOp,
        /// The literal.
        value: String,
    },
    /// Both sides.
    And(Box<Expr>, Box<Expr>),
    /// Either side.
    Or(Box<Expr>, Box<Expr>),
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Pattern / contains.
    Cp,
    /// Greater than (numbers, else text).
    Gt,
    /// Less than (numbers, else text).
    Lt,
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Open,
    Close,
    Word(String),
    Quoted(String),
}

/// Parses a filter; the error is a plain sentence for the panel's error body.
pub fn parse(input: &str) -> Result<Expr, String> {
    let tokens = lex(input)?;
    let mut parser = Parser { tokens, pos: 0 };
    let expr = parser.or_expr()?;
    if parser.pos != parser.tokens.len() {
        return Err(format!(
            "unexpected text after the filter at token {}",
            parser.pos + 1
        ));
    }
    Ok(expr)
}

fn lex(input: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '\'' => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => match chars.next() {
                            Some(escaped) => text.push(escaped),
                            None => return Err("unterminated quoted value".into()),
                        },
                        Some('\'') => break,
                        Some(other) => text.push(other),
                        None => return Err("unterminated quoted value".into()),
                    }
                }
                tokens.push(Token::Quoted(text));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' || c == '\'' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    if tokens.is_empty() {
        return Err("empty filter".into());
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn or_expr(&mut self) -> Result<Expr, String> {
        let mut left = self.and_expr()?;
        while self.peek_keyword("OR") {
            self.pos += 1;
            let right = self.and_expr()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, String> {
        let mut left = self.term()?;
        while self.peek_keyword("AND") {
            self.pos += 1;
            let right = self.term()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Expr, String> {
        match self.tokens.get(self.pos).cloned() {
            Some(Token::Open) => {
                self.pos += 1;
                let inner = self.or_expr()?;
                match self.tokens.get(self.pos) {
                    Some(Token::Close) => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    _ => Err("missing closing parenthesis".into()),
                }
            }
            Some(Token::Word(field)) => {
                self.pos += 1;
                let op = match self.tokens.get(self.pos) {
                    Some(Token::Word(op)) => match op.to_ascii_uppercase().as_str() {
                        "EQ" => CmpOp::Eq,
                        "NE" => CmpOp::Ne,
                        "CP" => CmpOp::Cp,
                        "GT" => CmpOp::Gt,
                        "LT" => CmpOp::Lt,
                        other => return Err(format!("unknown operator '{other}'")),
                    },
                    _ => return Err(format!("missing operator after '{field}'")),
                };
                self.pos += 1;
                let value = match self.tokens.get(self.pos) {
                    Some(Token::Quoted(v)) | Some(Token::Word(v)) => v.clone(),
                    _ => return Err(format!("missing value after '{field}'")),
                };
                self.pos += 1;
                if !field
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                {
                    return Err(format!("invalid field name '{field}'"));
                }
                Ok(Expr::Cond { field, op, value })
            }
            _ => Err("expected a condition or '('".into()),
        }
    }
}

impl Expr {
    /// Whether a list element matches.
    pub fn matches(&self, item: &Value) -> bool {
        match self {
            Expr::And(a, b) => a.matches(item) && b.matches(item),
            Expr::Or(a, b) => a.matches(item) || b.matches(item),
            Expr::Cond { field, op, value } => {
                let found = field
                    .split('.')
                    .try_fold(item, |node, key| node.get(key))
                    .unwrap_or(&Value::Null);
                match found {
                    // A list field (roles, ip4) matches when any element does.
                    Value::Array(items) if *op != CmpOp::Ne => {
                        items.iter().any(|v| compare(v, *op, value))
                    }
                    Value::Array(items) => items.iter().all(|v| compare(v, *op, value)),
                    other => compare(other, *op, value),
                }
            }
        }
    }
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => None,
        // An object compares through its id (`account EQ 5`) or, failing that, not at all.
        Value::Object(map) => map.get("id").and_then(text_of),
        Value::Array(_) => None,
    }
}

fn compare(found: &Value, op: CmpOp, literal: &str) -> bool {
    let Some(text) = text_of(found) else {
        return op == CmpOp::Ne;
    };
    match op {
        CmpOp::Eq => text == literal,
        CmpOp::Ne => text != literal,
        CmpOp::Cp => like(&text.to_lowercase(), &literal.to_lowercase()),
        CmpOp::Gt | CmpOp::Lt => {
            let ordering = match (text.parse::<f64>(), literal.parse::<f64>()) {
                (Ok(a), Ok(b)) => a.partial_cmp(&b),
                _ => Some(text.as_str().cmp(literal)),
            };
            let wanted = if op == CmpOp::Gt {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Less
            };
            ordering == Some(wanted)
        }
    }
}

/// SQL-like match with `%`; without `%` the pattern matches as a substring.
fn like(text: &str, pattern: &str) -> bool {
    if !pattern.contains('%') {
        return text.contains(pattern);
    }
    let parts: Vec<&str> = pattern.split('%').collect();
    let (first, rest) = parts.split_first().expect("split yields one part");
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let (last, middle) = rest.split_last().expect("pattern has a '%'");
    for part in middle {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reference_task_filter() {
        let expr = parse("((consul_id EQ '123') AND (name EQ 'host_create'))").unwrap();
        assert!(expr.matches(&json!({"consul_id": 123, "name": "host_create"})));
        assert!(!expr.matches(&json!({"consul_id": 123, "name": "host_stop"})));
    }

    #[test]
    fn nested_fields_bare_values_and_or() {
        let expr = parse("(account.id EQ 5) OR (name CP '%web%')").unwrap();
        assert!(expr.matches(&json!({"account": {"id": 5}, "name": "x"})));
        assert!(expr.matches(&json!({"account": {"id": 6}, "name": "myweb1"})));
        assert!(!expr.matches(&json!({"account": {"id": 6}, "name": "db"})));
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let expr = parse("(a EQ 1) OR (b EQ 1) AND (c EQ 1)").unwrap();
        assert!(expr.matches(&json!({"a": 1, "b": 0, "c": 0})));
        assert!(!expr.matches(&json!({"a": 0, "b": 1, "c": 0})));
    }

    #[test]
    fn escaped_quotes_stay_inside_the_value() {
        let expr = parse(r"(name EQ 'x\') OR (id NE \'0')").unwrap();
        assert!(expr.matches(&json!({"name": "x') OR (id NE '0", "id": 0})));
        assert!(!expr.matches(&json!({"name": "y", "id": 1})));
    }

    #[test]
    fn patterns() {
        assert!(like("cont1234", "cont%"));
        assert!(like("cont1234", "%12%"));
        assert!(like("cont1234", "%234"));
        assert!(!like("cont1234", "%235"));
        assert!(like("cont1234", "nt12"));
    }

    #[test]
    fn list_fields_match_any_element() {
        let expr = parse("(roles EQ '@admin')").unwrap();
        assert!(expr.matches(&json!({"roles": ["@user", "@admin"]})));
    }

    #[test]
    fn malformed_filters_are_errors() {
        for bad in ["", "(a EQ 1", "a XX 1", "a EQ", "(a EQ 'x) ", "a EQ 1 b"] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
    }
}
