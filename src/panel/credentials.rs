//! Login name and password of a panel account.
//!
//! Why a type of its own: the password must never reach a log line, an event, a status field
//! or a URL. It lives in a [`SecretString`] (zeroed on drop, redacted by `Debug`); `Debug` and
//! `Display` of [`Credentials`] show the login only, and the only way to read the password is
//! the explicit [`Credentials::expose_password`], used where a request body is built.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// A panel login: the username in clear, the password sealed.
#[derive(Clone)]
pub struct Credentials {
    username: String,
    password: SecretString,
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: SecretString::from(password.into()),
        }
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    pub fn password(&self) -> &SecretString {
        &self.password
    }

    /// The password in clear, for building a request body. Never log the result.
    pub fn expose_password(&self) -> &str {
        self.password.expose_secret()
    }

    /// The mgr `authinfo` value `LOGIN:PASSWORD`, for a request body only.
    pub(crate) fn authinfo(&self) -> SecretString {
        SecretString::from(format!("{}:{}", self.username, self.expose_password()))
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.username)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_password() {
        let c = Credentials::new("root", "s3cret-pw");
        let shown = format!("{c:?} {c} {c:#?}");
        assert!(!shown.contains("s3cret-pw"), "{shown}");
        assert!(shown.contains("root"));
        assert_eq!(c.expose_password(), "s3cret-pw");
    }
}
