//! The string patterns of the API, each defined once: garde checks them at validation time and
//! schemars copies them into the CRD schema, so the API server and `hostplane validate` agree.
//! Each comes with a plain description, used in place of the raw regex in error messages.

use std::sync::LazyLock;

use regex::Regex;

macro_rules! patterns {
    ($($(#[$doc:meta])* $name:ident = $re:literal, $what:literal;)*) => {
        $(
            $(#[$doc])*
            pub static $name: LazyLock<Regex> = LazyLock::new(|| Regex::new($re).expect("valid regex"));
        )*

        /// Plain words for a pattern that a value failed to match, if it is one of ours.
        pub fn describe(pattern: &str) -> Option<&'static str> {
            match pattern {
                $($re => Some($what),)*
                _ => None,
            }
        }
    };
}

patterns! {
    /// Object names (RFC 1123 subdomain), as Kubernetes requires for `metadata.name`.
    NAME_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
        "must be a lowercase name of letters, digits, '-' and '.', starting and ending with a letter or digit";
    /// Namespace names (RFC 1123 label: no dots, at most 63 characters).
    NAMESPACE_RE = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        "must be a lowercase DNS label of at most 63 characters";
    /// Panel URLs: http or https, with a host.
    URL_RE = r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        "must be an http:// or https:// URL without query or fragment";
    /// An ISO 4217 currency code.
    CURRENCY_RE = r"^[A-Z]{3}$",
        "must be a three-letter ISO 4217 currency code such as USD or EUR";
    /// A license type: the licensing server's pricelist id, or `nopanel` (seed 001).
    LICENSE_TYPE_RE = r"^(nopanel|[1-9][0-9]{0,9})$",
        "must be a pricelist id of the licensing server (digits) or \"nopanel\"";
    /// A pricelist id of the licensing server (a license type that is bought).
    PRICELIST_RE = r"^[1-9][0-9]{0,9}$",
        "must be a pricelist id of the licensing server (digits, such as 3541)";
    /// A DNS domain name.
    DOMAIN_RE = r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$",
        "must be a lowercase DNS domain name such as example.com";
    /// A domain template: a domain name in which macros such as @USERNAME@ may stand for labels.
    DOMAIN_TEMPLATE_RE = r"^(([a-z0-9]|@[A-Z_]+@)([-a-z0-9]|@[A-Z_]+@)*\.)+([a-z]|@[A-Z_]+@)([-a-z0-9]|@[A-Z_]+@)*$",
        "must be a lowercase domain name in which @USERNAME@, @TYPE@ and @ID@ may stand for parts of labels";
    /// A username template: lowercase letters, digits, '_' and '-', and macros.
    USERNAME_TEMPLATE_RE = r"^([a-z]|@[A-Z_]+@)([a-z0-9_-]|@[A-Z_]+@)*$",
        "must start with a lowercase letter or a macro and contain only lowercase letters, digits, '_', '-' and macros such as @ID@";
    /// An email address (deliberately permissive: the mail system is the real judge).
    EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        "must be an email address such as billing@example.com";
    /// An IPv4 address.
    IPV4_RE = r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$",
        "must be an IPv4 address such as 203.0.113.10";
    /// A client group name.
    GROUP_RE = r"^[A-Za-z0-9]([-A-Za-z0-9_. ]*[A-Za-z0-9])?$",
        "must be letters, digits, spaces, '-', '_' and '.', starting and ending with a letter or digit";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles_and_is_described() {
        for re in [
            &NAME_RE,
            &NAMESPACE_RE,
            &URL_RE,
            &CURRENCY_RE,
            &LICENSE_TYPE_RE,
            &PRICELIST_RE,
            &DOMAIN_RE,
            &DOMAIN_TEMPLATE_RE,
            &USERNAME_TEMPLATE_RE,
            &EMAIL_RE,
            &IPV4_RE,
            &GROUP_RE,
        ] {
            assert!(describe(re.as_str()).is_some(), "{}", re.as_str());
        }
    }

    #[test]
    fn patterns_accept_and_reject_what_they_say() {
        assert!(NAME_RE.is_match("acme-web.1"));
        assert!(!NAME_RE.is_match("Acme"));
        assert!(NAMESPACE_RE.is_match("acme-hosting") && NAMESPACE_RE.is_match(&"a".repeat(63)));
        assert!(!NAMESPACE_RE.is_match("acme.hosting") && !NAMESPACE_RE.is_match(&"a".repeat(64)));
        assert!(!NAMESPACE_RE.is_match("-acme") && !NAMESPACE_RE.is_match("Bad_Name"));
        assert!(URL_RE.is_match("https://panel.example.com:1500/ispmgr"));
        assert!(!URL_RE.is_match("ftp://x"));
        assert!(LICENSE_TYPE_RE.is_match("nopanel") && LICENSE_TYPE_RE.is_match("3541"));
        assert!(!LICENSE_TYPE_RE.is_match("0"));
        assert!(DOMAIN_RE.is_match("shop.example.com"));
        assert!(!DOMAIN_RE.is_match("example"));
        assert!(DOMAIN_TEMPLATE_RE.is_match("@USERNAME@.example.com"));
        assert!(DOMAIN_TEMPLATE_RE.is_match("@ID@-@TYPE@.@USERNAME@.example.net"));
        assert!(!DOMAIN_TEMPLATE_RE.is_match("@USERNAME@.Example.com"));
        assert!(
            USERNAME_TEMPLATE_RE.is_match("user@ID@")
                && USERNAME_TEMPLATE_RE.is_match("b@ACCOUNT_ID@@ID@")
        );
        assert!(!USERNAME_TEMPLATE_RE.is_match("User1"));
        assert!(IPV4_RE.is_match("203.0.113.10") && !IPV4_RE.is_match("256.1.1.1"));
    }
}
