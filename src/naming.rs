//! Username and default-domain templates of a hosting tariff (seed 002, "Additional settings").
//!
//! Pure functions: the validator checks templates with them offline and the controller expands
//! them the same way, so a name accepted in CI is the name created at the panel.
//!
//! Macros and what they stand for here (hostplane has no numeric ids; names are the identity):
//! - `@ID@`: the HostingService's name with everything but `[a-z0-9]` removed;
//! - `@USERNAME@`: the Client's name, likewise;
//! - `@ACCOUNT_ID@`: the Client's `spec.accountId` (the provider's customer number);
//! - `@DOMAIN@`: the first label of the service's domain, likewise;
//! - `@TYPE@` (domain template only): `hosting`.

use std::sync::LazyLock;

use regex::Regex;

/// ispmanager usernames: at most 16 characters (seed 002).
pub const MAX_USERNAME_LEN: usize = 16;

/// What an expanded username must look like (lowercase, starts with a letter).
static USERNAME_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z][a-z0-9_-]*$").expect("valid regex"));

/// Macros a username template may use.
pub const USERNAME_MACROS: [&str; 4] = ["ID", "USERNAME", "ACCOUNT_ID", "DOMAIN"];
/// Macros a default-domain template may use.
pub const DOMAIN_MACROS: [&str; 3] = ["USERNAME", "TYPE", "ID"];

/// The values macros expand to for one service.
#[derive(Clone, Debug, Default)]
pub struct MacroValues<'a> {
    /// The HostingService's `metadata.name`.
    pub service_name: &'a str,
    /// The Client's `metadata.name`.
    pub client_name: &'a str,
    /// The Client's `spec.accountId`.
    pub account_id: Option<u64>,
    /// The service's domain (declared or generated).
    pub domain: Option<&'a str>,
}

/// Keeps only lowercase letters and digits: `acme-web.1` → `acmeweb1`.
pub fn compact(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        .collect()
}

/// Splits a template into literal text and macro names, rejecting macros not in `allowed`.
fn parse<'t>(template: &'t str, allowed: &[&str]) -> Result<Vec<Piece<'t>>, String> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('@') {
        if start > 0 {
            pieces.push(Piece::Literal(&rest[..start]));
        }
        let after = &rest[start + 1..];
        let end = after.find('@').ok_or_else(|| {
            format!(
                "'@' at position {} does not start a macro such as @ID@",
                template.len() - rest.len() + start + 1
            )
        })?;
        let name = &after[..end];
        if !allowed.contains(&name) {
            let list: Vec<String> = allowed.iter().map(|m| format!("@{m}@")).collect();
            return Err(format!(
                "unknown macro @{name}@; known macros are {}",
                list.join(", ")
            ));
        }
        pieces.push(Piece::Macro(name));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Literal(rest));
    }
    Ok(pieces)
}

enum Piece<'t> {
    Literal(&'t str),
    Macro(&'t str),
}

/// Checks a username template on its own: known macros, a per-service macro, and a length
/// that can fit in 16 characters (each macro expands to at least one character).
pub fn check_username_template(template: &str) -> Result<(), String> {
    let pieces = parse(template, &USERNAME_MACROS)?;
    let shortest: usize = pieces
        .iter()
        .map(|p| match p {
            Piece::Literal(l) => l.len(),
            Piece::Macro(_) => 1,
        })
        .sum();
    if shortest > MAX_USERNAME_LEN {
        return Err(format!(
            "expands to at least {shortest} characters; ispmanager usernames have at most {MAX_USERNAME_LEN}"
        ));
    }
    if !pieces
        .iter()
        .any(|p| matches!(p, Piece::Macro("ID" | "DOMAIN")))
    {
        return Err("must contain @ID@ or @DOMAIN@, or every service of a client would get the same username".into());
    }
    Ok(())
}

/// Checks a default-domain template on its own: known macros only.
pub fn check_domain_template(template: &str) -> Result<(), String> {
    parse(template, &DOMAIN_MACROS).map(|_| ())
}

/// Expands a username template for one service and checks the result.
pub fn expand_username(template: &str, values: &MacroValues) -> Result<String, String> {
    let name = expand(template, &USERNAME_MACROS, values)?;
    if name.len() > MAX_USERNAME_LEN {
        return Err(format!(
            "username {name:?} has {} characters; ispmanager allows at most {MAX_USERNAME_LEN} (shorten the template or the names it uses)",
            name.len()
        ));
    }
    if !USERNAME_RE.is_match(&name) {
        return Err(format!(
            "username {name:?} must start with a lowercase letter"
        ));
    }
    Ok(name)
}

/// Expands a default-domain template for one service.
pub fn expand_domain(template: &str, values: &MacroValues) -> Result<String, String> {
    let domain = expand(template, &DOMAIN_MACROS, values)?;
    if !crate::api::patterns::DOMAIN_RE.is_match(&domain) || domain.len() > 253 {
        return Err(format!(
            "generated domain {domain:?} is not a valid domain name"
        ));
    }
    Ok(domain)
}

fn expand(template: &str, allowed: &[&str], values: &MacroValues) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 16);
    for piece in parse(template, allowed)? {
        match piece {
            Piece::Literal(l) => out.push_str(l),
            Piece::Macro("ID") => out.push_str(&compact(values.service_name)),
            Piece::Macro("USERNAME") => out.push_str(&compact(values.client_name)),
            Piece::Macro("TYPE") => out.push_str("hosting"),
            Piece::Macro("ACCOUNT_ID") => match values.account_id {
                Some(id) => out.push_str(&id.to_string()),
                None => return Err("uses @ACCOUNT_ID@ but the client has no spec.accountId".into()),
            },
            Piece::Macro("DOMAIN") => match values.domain {
                Some(d) => out.push_str(&compact(d.split('.').next().unwrap_or(d))),
                None => return Err("uses @DOMAIN@ but the service has no domain".into()),
            },
            Piece::Macro(other) => unreachable!("parse() admitted unknown macro {other}"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> MacroValues<'static> {
        MacroValues {
            service_name: "web-1",
            client_name: "acme",
            account_id: Some(510),
            domain: Some("shop.example.com"),
        }
    }

    #[test]
    fn seed_default_template_gives_user_and_id() {
        assert_eq!(expand_username("user@ID@", &values()).unwrap(), "userweb1");
        assert_eq!(
            expand_username("u@ACCOUNT_ID@@DOMAIN@", &values()).unwrap(),
            "u510shop"
        );
        assert_eq!(
            expand_domain("@USERNAME@.example.com", &values()).unwrap(),
            "acme.example.com"
        );
        assert_eq!(
            expand_domain("@ID@-@TYPE@.example.net", &values()).unwrap(),
            "web1-hosting.example.net"
        );
    }

    #[test]
    fn static_check_rejects_what_cannot_fit_or_is_unknown() {
        assert!(check_username_template("user@ID@").is_ok());
        let long = check_username_template("averyverylongprefix@ID@").unwrap_err();
        assert!(long.contains("at least 20 characters"), "{long}");
        assert!(
            check_username_template("user@NAME@")
                .unwrap_err()
                .contains("unknown macro @NAME@")
        );
        assert!(
            check_username_template("user@USERNAME@")
                .unwrap_err()
                .contains("same username")
        );
        assert!(
            check_username_template("user@")
                .unwrap_err()
                .contains("does not start a macro")
        );
        assert!(
            check_domain_template("@DOMAIN@.example.com")
                .unwrap_err()
                .contains("unknown macro")
        );
    }

    #[test]
    fn expansion_enforces_16_characters_and_a_leading_letter() {
        let long = MacroValues {
            service_name: "a-very-long-service-name",
            ..values()
        };
        assert!(
            expand_username("user@ID@", &long)
                .unwrap_err()
                .contains("at most 16")
        );
        let digit = MacroValues {
            service_name: "1web",
            ..values()
        };
        assert!(
            expand_username("@ID@", &digit)
                .unwrap_err()
                .contains("lowercase letter")
        );
        let no_account = MacroValues {
            account_id: None,
            ..values()
        };
        assert!(
            expand_username("c@ACCOUNT_ID@@ID@", &no_account)
                .unwrap_err()
                .contains("accountId")
        );
    }
}
