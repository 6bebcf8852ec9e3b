//! License names and `remoteid`s: how a license at the licensing server is tied back to the
//! service that needs it.
//!
//! Two identities, with different jobs, and the name carries both:
//!
//! - the **`remoteid`** ([`RemoteId`]) is the controller's correlation id: derived from the
//!   service's namespace, name and uid, sent with every order and every rebind
//!   (`soft.order.param … remoteid=`, `soft.edit … remoteid=`, reference §5.2/§5.4), so that
//!   a lookup after a lost answer finds the license that was bought and a license is never
//!   bought twice for one need (design §3, reference §6.1);
//! - the **license name** (`licname`) is for people reading the partner's license list. Seed
//!   003, "Forming license name": *"The license name will be as follows: Item #MAIN_SERVICE_ID
//!   addon MAIN_SERVICE_NAME"*.
//!
//! Why the name carries the `remoteid` too, as a trailing tag (`Item #shopvps1 addon
//! shop.example [hpa0-mfzwizltmvzgs3tbnvsq]`): the `soft` list of a real licensing server
//! does not echo `remoteid` — the documented list fields have none and no production client
//! reads it back (reference §11, [S4], [S26 `IspSoft.php`]) — while it always lists
//! `licname`. With the tag, the one `func=soft` call that every lookup starts with identifies
//! each license exactly, where IP + type cannot tell two licenses of one IP apart, nor follow
//! a license whose IP changed. A panel that does echo `remoteid` is read by that field first
//! ([`crate::panel::licensing::License::correlation_id`]).
//!
//! A license bought by a hostplane older than the tag has a name without one. On a panel that
//! echoes `remoteid` it is found by that field as before. On one that does not, what links it
//! to its service is the license id recorded in the service's `status.license.id` (and
//! `status.externalName`): the controller reads it by id (`soft.edit`), keeps it, and renames
//! it to the tagged name on that reconcile; were the status lost too, seed 003's `fixchilds`
//! match (same IP, same type, not claimed by another service) adopts it before anything is
//! ordered, so nothing is bought twice for it.

use std::fmt;
use std::str::FromStr;

use crate::naming::compact;
use crate::panel::licensing::tagged_name;

/// What a license is bought for; the two needs get different `remoteid`s, as the official
/// partner module's `l<id>` (product) and `a<id>` (addon) prefixes do (reference §5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LicenseKind {
    /// The control-panel license addon of a virtual server (seed 001).
    Addon,
    /// A `SoftwareLicense` service: the license is the service (seed 003).
    Standalone,
}

impl LicenseKind {
    fn letter(self) -> char {
        match self {
            LicenseKind::Addon => 'a',
            LicenseKind::Standalone => 'l',
        }
    }
}

/// Longest license name we send, tag included. The reference documents no limit for
/// `licname`; 128 characters keep the partner's license list readable and stay far below the
/// usual 255-character text columns of BILLmanager.
pub const MAX_LICENSE_NAME_LEN: usize = 128;

/// The name of the license of a service (seed 003, "Forming license name"), tagged with the
/// need's `remoteid`.
///
/// - `ID` (`MAIN_SERVICE_ID`): hostplane has no numeric service ids, so the service's
///   `metadata.name` stands in for it, compacted exactly as the `@ID@` username macro does
///   ([`crate::naming::compact`]): `shop-vps.1` → `shopvps1`;
/// - `NAME` (`MAIN_SERVICE_NAME`): BILLmanager names a service after its domain; `display`
///   is the service's domain when it has one, else its `metadata.name`;
/// - the tag ` [remoteid]` ends the name ([`crate::panel::licensing::tagged_name`]; the
///   module docs say why).
///
/// An addon license is `Item #ID addon NAME [remoteid]`. The seed only names addon licenses; a
/// standalone license (which is the main service itself) drops the word `addon`:
/// `Item #ID NAME [remoteid]`. Control characters are dropped and the result is at most
/// [`MAX_LICENSE_NAME_LEN`] characters: the seed's part is cut from its end (the display
/// name first, then the ID), never the tag, which is the identity. The result can never be
/// `free.lic`, the name that marks a pooled license.
pub fn license_name(
    kind: LicenseKind,
    service_name: &str,
    display: Option<&str>,
    remoteid: &str,
) -> String {
    let id = compact(service_name);
    let display: String = display
        .unwrap_or(service_name)
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let name = match kind {
        LicenseKind::Addon => format!("Item #{id} addon {}", display.trim()),
        LicenseKind::Standalone => format!("Item #{id} {}", display.trim()),
    };
    tagged_name(&name, remoteid, MAX_LICENSE_NAME_LEN)
}

/// Characters of the digest part of a [`RemoteId`]: 20 base32 characters carry 100 bits.
const DIGEST_LEN: usize = 20;
/// RFC 4648 base32 alphabet, lowercased: only `[a-z2-7]`, safe in any form field.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Longest `remoteid` we produce: `hp` + kind + up to 5 generation digits + `-` + 20.
///
/// The reference gives no limit for `remoteid`; the official module sends `l<serviceid>`, a
/// few characters. We stay within 32 characters (the length of a UUID in hex) and within
/// `[a-z0-9-]`, so it survives any column type and any URL encoding unchanged.
pub const MAX_REMOTEID_LEN: usize = 29;

/// The correlation id of one license need of one service: `hp<kind><generation>-<digest>`,
/// e.g. `hpa0-mfzwizltmvzgs3tbnvsq`.
///
/// - `kind`: `a` for an addon license, `l` for a standalone license (the official prefixes);
/// - `generation`: always 0 today; the field is part of the format so that a later version
///   could tell licenses of one need apart without orphaning the ones ordered before. Nothing
///   bumps it, because nothing needs to:
///   - a license type change that takes another license from the pool
///     (`UseExistingOnUpgrade`, seed 003) briefly leaves two licenses carrying the same
///     `remoteid`, but of different pricelists: the need is identified by `remoteid` *and*
///     pricelist, and every other license carrying the `remoteid` is superseded and released
///     ([`crate::pools::license_pool::settle_type`]); a `changepricelist` keeps the license;
///   - a license the vendor deleted reads with status 4 (deleted) and is never matched
///     again, so a new order with the same `remoteid` is not confused with it;
/// - `digest`: 100 bits of a stable hash (FNV-1a, 128-bit) of the service's namespace, name
///   and uid. The uid makes a re-created object (same name, new uid) a new need, as it is a
///   new service; namespace and name make the id unique across clusters too. The hash is
///   fixed by this code, never by the Rust version (unlike `std`'s `DefaultHasher`), so an
///   upgraded controller computes the same id for the same service.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RemoteId {
    pub kind: LicenseKind,
    pub generation: u16,
    digest: String,
}

impl RemoteId {
    /// The `remoteid` of `kind` license number `generation` of the service
    /// `namespace/name` with `metadata.uid` `uid`.
    pub fn for_service(
        namespace: &str,
        name: &str,
        uid: &str,
        kind: LicenseKind,
        generation: u16,
    ) -> Self {
        Self {
            kind,
            generation,
            digest: digest(namespace, name, uid),
        }
    }

    /// Whether this id belongs to the service, whatever its kind and generation: a license
    /// carrying it was bought or taken by that service.
    pub fn is_of_service(&self, namespace: &str, name: &str, uid: &str) -> bool {
        self.digest == digest(namespace, name, uid)
    }
}

impl fmt::Display for RemoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "hp{}{}-{}",
            self.kind.letter(),
            self.generation,
            self.digest
        )
    }
}

/// Why a string is not a hostplane `remoteid` (a license ordered by someone else, or by an
/// older billing system: `l123`, `a45`, empty).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a remoteid made by hostplane (hp<a|l><generation>-<20 base32 characters>)")]
pub struct NotOurRemoteId(pub String);

impl FromStr for RemoteId {
    type Err = NotOurRemoteId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || NotOurRemoteId(s.to_owned());
        let rest = s.strip_prefix("hp").ok_or_else(err)?;
        let kind = match rest.chars().next() {
            Some('a') => LicenseKind::Addon,
            Some('l') => LicenseKind::Standalone,
            _ => return Err(err()),
        };
        let (generation, digest) = rest[1..].split_once('-').ok_or_else(err)?;
        let canonical_number = !generation.is_empty()
            && generation.bytes().all(|b| b.is_ascii_digit())
            && (generation == "0" || !generation.starts_with('0'));
        if !canonical_number
            || digest.len() != DIGEST_LEN
            || !digest.bytes().all(|b| BASE32.contains(&b))
        {
            return Err(err());
        }
        Ok(Self {
            kind,
            generation: generation.parse().map_err(|_| err())?,
            digest: digest.to_owned(),
        })
    }
}

/// 128-bit FNV-1a (offset basis and prime from the FNV specification).
fn fnv1a_128(bytes: impl IntoIterator<Item = u8>) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    bytes
        .into_iter()
        .fold(OFFSET, |h, b| (h ^ u128::from(b)).wrapping_mul(PRIME))
}

/// The digest of a service identity. Each field is length-prefixed, so `("ab", "c")` and
/// `("a", "bc")` hash differently.
fn digest(namespace: &str, name: &str, uid: &str) -> String {
    let mut input = Vec::with_capacity(namespace.len() + name.len() + uid.len() + 24);
    for field in [namespace, name, uid] {
        input.extend_from_slice(&(field.len() as u64).to_be_bytes());
        input.extend_from_slice(field.as_bytes());
    }
    let h = fnv1a_128(input);
    // The top 100 bits, 5 at a time.
    (0..DIGEST_LEN)
        .map(|i| BASE32[((h >> (123 - 5 * i)) & 0x1f) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const UID: &str = "6f1c1d2e-8f0a-4c3b-9d7e-2a1b3c4d5e6f";

    const TAG: &str = "hpa0-mfzwizltmvzgs3tbnvsq";

    #[test]
    fn an_addon_license_is_named_as_seed_003_says_then_tagged() {
        assert_eq!(
            license_name(
                LicenseKind::Addon,
                "shop-vps.1",
                Some("vps1.example.com"),
                TAG
            ),
            "Item #shopvps1 addon vps1.example.com [hpa0-mfzwizltmvzgs3tbnvsq]"
        );
        // Without a domain the service's name is its NAME.
        assert_eq!(
            license_name(LicenseKind::Addon, "shop-vps", None, TAG),
            format!("Item #shopvps addon shop-vps [{TAG}]")
        );
        assert_eq!(
            license_name(
                LicenseKind::Standalone,
                "lic-7",
                Some("203.0.113.7"),
                "hpl0-x"
            ),
            "Item #lic7 203.0.113.7 [hpl0-x]"
        );
    }

    #[test]
    fn a_license_name_is_bounded_keeps_its_tag_and_is_never_free_lic() {
        let long = "a".repeat(253);
        let name = license_name(LicenseKind::Addon, &long, Some(&long), TAG);
        assert_eq!(name.chars().count(), MAX_LICENSE_NAME_LEN);
        assert!(name.starts_with("Item #aaa"));
        assert!(name.ends_with(&format!(" [{TAG}]")), "{name}");
        // The display part goes first, the ID only after it.
        let name = license_name(LicenseKind::Addon, "shop", Some(&long), TAG);
        assert!(name.starts_with("Item #shop addon aaa"), "{name}");
        assert_eq!(name.chars().count(), MAX_LICENSE_NAME_LEN);
        assert_ne!(
            license_name(LicenseKind::Addon, "free.lic", Some("free.lic"), ""),
            "free.lic"
        );
        assert_eq!(
            license_name(LicenseKind::Addon, "x", Some("a\nb\tc"), TAG),
            format!("Item #x addon abc [{TAG}]")
        );
    }

    proptest! {
        #[test]
        fn the_tag_of_every_name_is_the_remoteid(
            name in "[a-z0-9.-]{1,253}",
            display in proptest::option::of("\\PC{0,200}"),
            generation in any::<u16>(),
        ) {
            let id = RemoteId::for_service("ns", &name, UID, LicenseKind::Addon, generation)
                .to_string();
            let licname = license_name(LicenseKind::Addon, &name, display.as_deref(), &id);
            prop_assert!(licname.chars().count() <= MAX_LICENSE_NAME_LEN);
            prop_assert_eq!(crate::panel::licensing::name_tag(&licname), Some(id.as_str()));
        }
    }

    #[test]
    fn the_remoteid_is_stable_short_and_parses_back() {
        let id = RemoteId::for_service("brand-a", "shop-vps", UID, LicenseKind::Addon, 0);
        let text = id.to_string();
        assert!(text.starts_with("hpa0-"), "{text}");
        assert_eq!(text.len(), 5 + DIGEST_LEN);
        // Same inputs, same id: the lookup after a restart finds the order.
        assert_eq!(
            text,
            RemoteId::for_service("brand-a", "shop-vps", UID, LicenseKind::Addon, 0).to_string()
        );
        assert_eq!(text.parse::<RemoteId>(), Ok(id.clone()));
        assert!(id.is_of_service("brand-a", "shop-vps", UID));
        assert!(!id.is_of_service("brand-b", "shop-vps", UID));
    }

    #[test]
    fn the_digest_is_pinned() {
        // A changed hash would orphan every license ordered before an upgrade.
        let id = RemoteId::for_service("ns", "svc", "uid", LicenseKind::Standalone, 3);
        assert_eq!(
            id.to_string(),
            format!("hpl3-{}", digest("ns", "svc", "uid"))
        );
        assert_eq!(digest("ns", "svc", "uid"), PINNED);
    }
    const PINNED: &str = "r3it2ezwswaxkxcpw44x";

    #[test]
    fn fnv1a_128_matches_the_specification_vectors() {
        assert_eq!(fnv1a_128(*b""), 0x6c62272e07bb014262b821756295c58d);
        assert_eq!(fnv1a_128(*b"a"), 0xd228cb696f1a8caf78912b704e4a8964);
        assert_eq!(fnv1a_128(*b"foobar"), 0x343e1662793c64bf6f0d3597ba446f18);
    }

    #[test]
    fn kind_generation_and_identity_all_change_the_id() {
        let base = RemoteId::for_service("ns", "svc", UID, LicenseKind::Addon, 0).to_string();
        for other in [
            RemoteId::for_service("ns", "svc", UID, LicenseKind::Standalone, 0),
            RemoteId::for_service("ns", "svc", UID, LicenseKind::Addon, 1),
            RemoteId::for_service("ns", "svc2", UID, LicenseKind::Addon, 0),
            RemoteId::for_service("ns2", "svc", UID, LicenseKind::Addon, 0),
            RemoteId::for_service("ns", "svc", "other-uid", LicenseKind::Addon, 0),
            // Field boundaries matter.
            RemoteId::for_service("nss", "vc", UID, LicenseKind::Addon, 0),
        ] {
            assert_ne!(other.to_string(), base);
        }
    }

    #[test]
    fn foreign_remoteids_are_not_ours() {
        for s in [
            "",
            "l123",
            "a45",
            "hpx0-abcdefghijklmnopqrst",
            "hpa-abcdefghijklmnopqrst",
            "hpa01-abcdefghijklmnopqrst",
            "hpa0-abcdefghijklmnopqrs",
            "hpa0-ABCDEFGHIJKLMNOPQRST",
            "hpa0-abcdefghijklmnopqrs1",
            "hpa70000-abcdefghijklmnopqrst",
        ] {
            assert!(s.parse::<RemoteId>().is_err(), "{s}");
        }
    }

    proptest! {
        #[test]
        fn every_remoteid_fits_and_round_trips(
            ns in "[a-z0-9-]{1,63}",
            name in "[a-z0-9.-]{1,253}",
            uid in "[a-f0-9-]{36}",
            addon in any::<bool>(),
            generation in any::<u16>(),
        ) {
            let kind = if addon { LicenseKind::Addon } else { LicenseKind::Standalone };
            let id = RemoteId::for_service(&ns, &name, &uid, kind, generation);
            let text = id.to_string();
            prop_assert!(text.len() <= MAX_REMOTEID_LEN);
            prop_assert!(text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            prop_assert_eq!(text.parse::<RemoteId>(), Ok(id));
        }
    }
}
