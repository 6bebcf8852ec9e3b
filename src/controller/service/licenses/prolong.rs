//! A prolongation in flight: its attempt recorded on the service, so a lost answer is never paid twice.

use super::*;

/// A prolongation sent: when, for which license, from which expiry. Once the license shows
/// another expiry the attempt is settled (it was applied), with no write needed to say so.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct ProlongAttempt<'a> {
    pub(super) at: jiff::Timestamp,
    pub(super) license: &'a str,
    pub(super) expiry: &'a str,
}

impl<'a> ProlongAttempt<'a> {
    pub(super) fn value(at: jiff::Timestamp, license: &str, expiry: Date) -> String {
        let at = at.round(jiff::Unit::Second).unwrap_or(at);
        format!("{at} license={license} expiry={expiry}")
    }

    pub(super) fn parse(text: &'a str) -> Option<Self> {
        let mut words = text.split_whitespace();
        let at = words.next()?.parse().ok()?;
        let license = words.next()?.strip_prefix("license=")?;
        let expiry = words.next()?.strip_prefix("expiry=")?;
        Some(Self {
            at,
            license,
            expiry,
        })
    }

    pub(super) fn read(service: &'a HostingService, key: &str) -> Option<Self> {
        Self::parse(service.annotations().get(key)?)
    }

    /// Whether the attempt was for `license` while it expired on `expiry`.
    pub(super) fn is(&self, license: &str, expiry: Date) -> bool {
        self.license == license && self.expiry == expiry.to_string()
    }
}
