//! The server pool (seed 004): how many servers of each configuration to keep ready, which
//! ones are too old, and which one an order takes.
//!
//! The rules, and where they come from (seed 004, "Pool of servers"):
//!
//! - **Matching**: *"If a client orders the server with the configuration that can be found in
//!   the pool, a new server won't be created"* — the seed's example compares OS, disk, RAM and
//!   CPU (*"CentOS 7, 10 GiB disk space, 2 GiB RAM and one-core CPU"*). We also compare the
//!   recipe: a server prepared with a recipe carries software another order did not ask for.
//! - **Sizing**: *"Calculate statistics for — … only the virtual machines created for the last
//!   N days"*, and *"Ordered servers (0 < VPS <= 3) — the number of servers that will be added
//!   into the pool, if up to 3 servers were sold"*, and so on up to *"more than 15"*: the
//!   `sizeBySales` table, per configuration. No sales, no pre-created servers (no row covers
//!   0). billing-conventions.md §3.1 works the example: window 3 days, (0,3] → 2,
//!   (3,6] → 4; 1 Ubuntu and 5 CentOS sold → keep 2 Ubuntu and 4 CentOS.
//! - **Ageing**: *"Maximum period in pool — the maximum period in months that will pass before
//!   a virtual machine will be deleted from the pool. When the specified period is over, the
//!   server will be deleted automatically."* Calendar months from the creation day, with a
//!   stable anchor ([`crate::billing::dates::add_months`]).
//!
//! Time is an argument: `today` is the provider's calendar day, and creation timestamps are
//! read as days in the provider's time zone.

use std::cmp::Ordering;

use jiff::tz::TimeZone;

use crate::api::common::Date;
use crate::api::server_pool::{
    PoolConfiguration, PooledServer, PooledServerState, SalesBucket, ServerPoolSpec,
};
use crate::billing::dates::{add_months, days_between};

/// The configuration of an ordered (or sold) virtual server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerShape<'a> {
    /// The OS image chosen.
    pub operating_system: &'a str,
    pub cpu_cores: u32,
    pub memory_mib: u32,
    pub disk_gib: u32,
    /// The recipe run after installation, when the module uses recipes.
    pub recipe: Option<&'a str>,
}

impl<'a> ServerShape<'a> {
    /// The shape a pool configuration builds.
    pub fn of(configuration: &'a PoolConfiguration) -> Self {
        Self {
            operating_system: &configuration.operating_system,
            cpu_cores: configuration.cpu_cores,
            memory_mib: configuration.memory_mib,
            disk_gib: configuration.disk_gib,
            recipe: configuration.recipe.as_deref(),
        }
    }

    /// Whether a server of `configuration` is what this order asks for: same OS, CPU, RAM,
    /// disk (seed 004) and recipe.
    pub fn fits(&self, configuration: &PoolConfiguration) -> bool {
        *self == ServerShape::of(configuration)
    }
}

/// The pool configuration an order or a sale counts for: the first listed that fits, so a
/// sale is never counted twice when two configurations happen to be equal.
pub fn configuration_for<'s>(
    spec: &'s ServerPoolSpec,
    order: &ServerShape<'_>,
) -> Option<&'s PoolConfiguration> {
    spec.configurations.iter().find(|c| order.fits(c))
}

/// Servers of one configuration to keep ready when `sold` of them were sold in the window
/// (seed 004's table).
///
/// A row covers `(previous row's maxSold, maxSold]`; rows are read in ascending `maxSold`
/// whatever their order in the list, a row without `maxSold` covers everything above, and
/// with no such row the highest row also covers what lies above it. 0 sold → 0 servers.
///
/// More sales never shrink the pool: a row asking for fewer servers than a row below it is
/// read as the row below (the seed's table grows with sales; a shrinking one is a typo that
/// would make a busy configuration slower to deliver than a quiet one).
pub fn target_size(buckets: &[SalesBucket], sold: u32) -> u32 {
    if sold == 0 {
        return 0;
    }
    let mut rows: Vec<&SalesBucket> = buckets.iter().collect();
    // `None` (open-ended) sorts last.
    rows.sort_by_key(|b| b.max_sold.map_or((1, 0), |m| (0, m)));
    let mut size = 0;
    for row in rows {
        size = size.max(row.servers);
        if row.max_sold.is_none_or(|max| sold <= max) {
            return size;
        }
    }
    size
}

/// A server sold (ordered by a client, whether created or taken from the pool).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sale<'a> {
    pub shape: ServerShape<'a>,
    /// The day it was ordered.
    pub on: Date,
}

/// Whether `on` lies in the `window_days` most recent days, today included (window 3 on
/// Jan 10: Jan 8, 9 and 10). Future days are not in it.
fn in_window(on: Date, window_days: u32, today: Date) -> bool {
    (0..i64::from(window_days)).contains(&days_between(on, today))
}

/// How many servers of `configuration` were sold in the statistics window (seed 004,
/// "Calculate statistics for").
pub fn sold_in_window(
    spec: &ServerPoolSpec,
    configuration: &PoolConfiguration,
    sales: &[Sale<'_>],
    today: Date,
) -> u32 {
    let count = sales
        .iter()
        .filter(|s| in_window(s.on, spec.statistics_window_days, today))
        .filter(|s| configuration_for(spec, &s.shape).is_some_and(|c| c.name == configuration.name))
        .count();
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// The day a pooled server was created, in the provider's time zone; `None` when its
/// `createdAt` is not an RFC 3339 timestamp.
pub fn created_on(server: &PooledServer, tz: &TimeZone) -> Option<Date> {
    let at: jiff::Timestamp = server.created_at.trim().parse().ok()?;
    Some(Date(at.to_zoned(tz.clone()).date()))
}

/// Whether the server's time in the pool is over on `today`: created on Jan 15 with a
/// maximum of 1 month → over on Feb 15; created Jan 31 → over on Feb 28. A server whose
/// creation day is unreadable is never aged out (deleting is not done on a guess).
pub fn is_aged(server: &PooledServer, max_months: u32, tz: &TimeZone, today: Date) -> bool {
    created_on(server, tz)
        .and_then(|created| add_months(created, i64::from(max_months)).ok())
        .is_some_and(|over| over <= today)
}

/// The servers to delete because their time in the pool is over (seed 004). Servers being
/// handed to a buyer (`Taking`) are never deleted.
pub fn aged_out<'p>(
    servers: &'p [PooledServer],
    max_months: u32,
    tz: &TimeZone,
    today: Date,
) -> Vec<&'p PooledServer> {
    servers
        .iter()
        .filter(|s| s.state != PooledServerState::Taking && is_aged(s, max_months, tz, today))
        .collect()
}

/// The pooled server an order takes, if any (seed 004: the owner changes from the pool client
/// to the buyer instead of a server being created).
///
/// Candidates are `Ready`, not aged, and of a configuration that fits the order. The **oldest**
/// is taken first (seed 004 is silent): pooled servers only ever leave by being taken or by
/// ageing out, so first-in-first-out hands out the server closest to deletion and wastes the
/// fewest. Servers with an unreadable creation time come last; ties go by id.
pub fn take<'p>(
    spec: &ServerPoolSpec,
    servers: &'p [PooledServer],
    order: &ServerShape<'_>,
    tz: &TimeZone,
    today: Date,
) -> Option<&'p PooledServer> {
    let fitting: Vec<&str> = spec
        .configurations
        .iter()
        .filter(|c| order.fits(c))
        .map(|c| c.name.as_str())
        .collect();
    servers
        .iter()
        .filter(|s| s.state == PooledServerState::Ready)
        .filter(|s| fitting.contains(&s.configuration.as_str()))
        .filter(|s| !is_aged(s, spec.max_months_in_pool, tz, today))
        .min_by(|a, b| age_order(a, b))
}

/// Oldest first, unknown creation last, then by id (numbers compare as numbers).
fn age_order(a: &PooledServer, b: &PooledServer) -> Ordering {
    let key = |s: &PooledServer| {
        let at: Option<jiff::Timestamp> = s.created_at.trim().parse().ok();
        (at.is_none(), at)
    };
    key(a)
        .cmp(&key(b))
        .then_with(|| (a.id.len(), &a.id).cmp(&(b.id.len(), &b.id)))
}

/// What one configuration of the pool needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigurationPlan {
    pub name: String,
    /// Servers sold in the statistics window.
    pub sold: u32,
    /// Servers to keep ready ([`target_size`]).
    pub desired: u32,
    /// `Ready` servers that are not aged.
    pub ready: u32,
    /// `Creating` servers that are not aged.
    pub creating: u32,
    /// Servers to create now: what `desired` lacks after `ready` and `creating`.
    pub create: u32,
}

/// The pool's plan on `today`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolPlan {
    /// One entry per configuration of the spec, in its order.
    pub configurations: Vec<ConfigurationPlan>,
    /// Ids of servers to delete: aged ones, ones already `Expiring` (the delete is repeated
    /// until done), and ones whose configuration was removed from the spec (git no longer
    /// asks for them). Never a server being taken.
    pub delete: Vec<String>,
}

impl PoolPlan {
    /// Servers the size table asks for, over all configurations (`status.desiredServers`).
    pub fn desired(&self) -> u32 {
        self.configurations.iter().map(|c| c.desired).sum()
    }

    /// Servers ready now (`status.readyServers`).
    pub fn ready(&self) -> u32 {
        self.configurations.iter().map(|c| c.ready).sum()
    }
}

/// The whole pool's plan: per configuration, sales in the window, the size the table asks
/// for and how many servers to create; and which servers to delete. Surplus servers (sales
/// fell) are not deleted: seed 004 deletes pooled servers only when their time is over, and a
/// server already made is the cheapest one to hand out.
pub fn plan(
    spec: &ServerPoolSpec,
    servers: &[PooledServer],
    sales: &[Sale<'_>],
    tz: &TimeZone,
    today: Date,
) -> PoolPlan {
    let aged = |s: &PooledServer| is_aged(s, spec.max_months_in_pool, tz, today);
    let known = |name: &str| spec.configurations.iter().any(|c| c.name == name);
    let configurations = spec
        .configurations
        .iter()
        .map(|c| {
            let sold = sold_in_window(spec, c, sales, today);
            let desired = target_size(&spec.size_by_sales, sold);
            let count = |state: PooledServerState| {
                let n = servers
                    .iter()
                    .filter(|s| s.configuration == c.name && s.state == state && !aged(s))
                    .count();
                u32::try_from(n).unwrap_or(u32::MAX)
            };
            let ready = count(PooledServerState::Ready);
            let creating = count(PooledServerState::Creating);
            ConfigurationPlan {
                name: c.name.clone(),
                sold,
                desired,
                ready,
                creating,
                create: desired.saturating_sub(ready.saturating_add(creating)),
            }
        })
        .collect();
    let delete = servers
        .iter()
        .filter(|s| s.state != PooledServerState::Taking)
        .filter(|s| s.state == PooledServerState::Expiring || aged(s) || !known(&s.configuration))
        .map(|s| s.id.clone())
        .collect();
    PoolPlan {
        configurations,
        delete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::LocalObjectReference;
    use crate::billing::dates::add_days;
    use proptest::prelude::*;

    fn date(s: &str) -> Date {
        Date(s.parse().expect("a YYYY-MM-DD date"))
    }

    fn config(name: &str, os: &str) -> PoolConfiguration {
        PoolConfiguration {
            name: name.to_owned(),
            operating_system: os.to_owned(),
            cpu_cores: 1,
            memory_mib: 2048,
            disk_gib: 10,
            recipe: None,
        }
    }

    fn bucket(max_sold: Option<u32>, servers: u32) -> SalesBucket {
        SalesBucket { max_sold, servers }
    }

    /// Seed 004's five rows, with illustrative sizes.
    fn seed_table() -> Vec<SalesBucket> {
        vec![
            bucket(Some(3), 2),
            bucket(Some(6), 4),
            bucket(Some(10), 6),
            bucket(Some(15), 8),
            bucket(None, 10),
        ]
    }

    fn spec(configurations: Vec<PoolConfiguration>) -> ServerPoolSpec {
        ServerPoolSpec {
            vmmanager_module_ref: LocalObjectReference::new("vm"),
            pool_client_ref: LocalObjectReference::new("user-pool"),
            configurations,
            statistics_window_days: 3,
            size_by_sales: seed_table(),
            max_months_in_pool: 1,
        }
    }

    fn server(
        id: &str,
        configuration: &str,
        created_at: &str,
        state: PooledServerState,
    ) -> PooledServer {
        PooledServer {
            id: id.to_owned(),
            configuration: configuration.to_owned(),
            created_at: created_at.to_owned(),
            state,
        }
    }

    fn centos() -> PoolConfiguration {
        config("centos7-small", "CentOS-7")
    }

    fn ubuntu() -> PoolConfiguration {
        config("ubuntu-small", "Ubuntu-22.04")
    }

    /// Seed 004's example order: CentOS 7, 10 GiB disk, 2 GiB RAM, one core.
    fn centos_order() -> ServerShape<'static> {
        ServerShape {
            operating_system: "CentOS-7",
            cpu_cores: 1,
            memory_mib: 2048,
            disk_gib: 10,
            recipe: None,
        }
    }

    const UTC: TimeZone = TimeZone::UTC;

    #[test]
    fn seed_004_table_rows() {
        let t = seed_table();
        let sizes: Vec<u32> = [0, 1, 3, 4, 6, 7, 10, 11, 15, 16, 1000]
            .iter()
            .map(|&n| target_size(&t, n))
            .collect();
        assert_eq!(sizes, [0, 2, 2, 4, 4, 6, 6, 8, 8, 10, 10]);
    }

    /// billing-conventions.md §3.1, computed from seed 004: window 3 days, (0,3] → 2,
    /// (3,6] → 4; 1 Ubuntu and 5 CentOS sold → keep 2 Ubuntu and 4 CentOS.
    #[test]
    fn seed_004_worked_example() {
        let s = spec(vec![ubuntu(), centos()]);
        let today = date("2026-03-10");
        let ubuntu_order = ServerShape {
            operating_system: "Ubuntu-22.04",
            ..centos_order()
        };
        let mut sales = vec![Sale {
            shape: ubuntu_order,
            on: date("2026-03-08"),
        }];
        for day in [
            "2026-03-08",
            "2026-03-09",
            "2026-03-09",
            "2026-03-10",
            "2026-03-10",
        ] {
            sales.push(Sale {
                shape: centos_order(),
                on: date(day),
            });
        }
        // Outside the window: too old, and in the future.
        sales.push(Sale {
            shape: centos_order(),
            on: date("2026-03-07"),
        });
        sales.push(Sale {
            shape: centos_order(),
            on: date("2026-03-11"),
        });
        let p = plan(&s, &[], &sales, &UTC, today);
        let got: Vec<(&str, u32, u32, u32)> = p
            .configurations
            .iter()
            .map(|c| (c.name.as_str(), c.sold, c.desired, c.create))
            .collect();
        assert_eq!(got, [("ubuntu-small", 1, 2, 2), ("centos7-small", 5, 4, 4)]);
        assert_eq!(p.desired(), 6);
    }

    #[test]
    fn no_sales_no_servers_and_unordered_or_shrinking_tables_are_read_safely() {
        assert_eq!(target_size(&seed_table(), 0), 0);
        let mut shuffled = seed_table();
        shuffled.reverse();
        for n in 0..20 {
            assert_eq!(target_size(&shuffled, n), target_size(&seed_table(), n));
        }
        // No open-ended row: the top row covers what lies above it.
        let closed = vec![bucket(Some(3), 1), bucket(Some(6), 2)];
        assert_eq!(target_size(&closed, 50), 2);
        // A shrinking row is read as the row below it.
        let shrinking = vec![bucket(Some(3), 5), bucket(None, 1)];
        assert_eq!(target_size(&shrinking, 4), 5);
        assert_eq!(target_size(&[], 4), 0);
    }

    #[test]
    fn an_order_takes_the_oldest_matching_ready_server() {
        let s = spec(vec![ubuntu(), centos()]);
        let today = date("2026-03-10");
        let servers = [
            server(
                "5",
                "centos7-small",
                "2026-03-05T10:00:00Z",
                PooledServerState::Ready,
            ),
            server(
                "4",
                "centos7-small",
                "2026-03-01T10:00:00Z",
                PooledServerState::Ready,
            ),
            server(
                "3",
                "centos7-small",
                "2026-02-20T10:00:00Z",
                PooledServerState::Creating,
            ),
            server(
                "2",
                "ubuntu-small",
                "2026-02-25T10:00:00Z",
                PooledServerState::Ready,
            ),
            server(
                "1",
                "centos7-small",
                "2026-02-26T10:00:00Z",
                PooledServerState::Taking,
            ),
        ];
        assert_eq!(
            take(&s, &servers, &centos_order(), &UTC, today).map(|s| s.id.as_str()),
            Some("4")
        );
        // Another disk size, RAM, CPU, OS or recipe: nothing fits.
        for other in [
            ServerShape {
                disk_gib: 20,
                ..centos_order()
            },
            ServerShape {
                memory_mib: 1024,
                ..centos_order()
            },
            ServerShape {
                cpu_cores: 2,
                ..centos_order()
            },
            ServerShape {
                operating_system: "Debian-12",
                ..centos_order()
            },
            ServerShape {
                recipe: Some("lamp"),
                ..centos_order()
            },
        ] {
            assert_eq!(take(&s, &servers, &other, &UTC, today), None);
        }
        assert_eq!(take(&s, &[], &centos_order(), &UTC, today), None);
    }

    #[test]
    fn servers_age_out_after_the_maximum_months() {
        let s = spec(vec![centos()]);
        let servers = [
            server(
                "1",
                "centos7-small",
                "2026-01-31T23:00:00Z",
                PooledServerState::Ready,
            ),
            server(
                "2",
                "centos7-small",
                "2026-02-15T08:00:00Z",
                PooledServerState::Ready,
            ),
            server(
                "3",
                "centos7-small",
                "2026-01-01T00:00:00Z",
                PooledServerState::Taking,
            ),
            server("4", "centos7-small", "not a time", PooledServerState::Ready),
        ];
        let ids = |v: Vec<&PooledServer>| v.into_iter().map(|s| s.id.clone()).collect::<Vec<_>>();
        // Jan 31 + 1 month = Feb 28: over on that day, not before.
        assert_eq!(
            ids(aged_out(&servers, 1, &UTC, date("2026-02-27"))),
            Vec::<String>::new()
        );
        assert_eq!(ids(aged_out(&servers, 1, &UTC, date("2026-02-28"))), ["1"]);
        assert_eq!(
            ids(aged_out(&servers, 1, &UTC, date("2026-03-15"))),
            ["1", "2"]
        );
        // The aged server is not handed out; the younger one is.
        assert_eq!(
            take(&s, &servers, &centos_order(), &UTC, date("2026-02-28")).map(|s| s.id.as_str()),
            Some("2")
        );
        // An unreadable creation time never deletes, and is taken last.
        assert_eq!(
            take(&s, &servers, &centos_order(), &UTC, date("2026-03-15")).map(|s| s.id.as_str()),
            Some("4")
        );
    }

    #[test]
    fn creation_days_are_read_in_the_providers_time_zone() {
        let late = server("1", "c", "2026-01-31T23:30:00Z", PooledServerState::Ready);
        assert_eq!(created_on(&late, &UTC), Some(date("2026-01-31")));
        let moscow = TimeZone::fixed(jiff::tz::offset(3));
        assert_eq!(created_on(&late, &moscow), Some(date("2026-02-01")));
        assert!(is_aged(&late, 1, &UTC, date("2026-02-28")));
        assert!(!is_aged(&late, 1, &moscow, date("2026-02-28")));
        assert!(is_aged(&late, 1, &moscow, date("2026-03-01")));
    }

    #[test]
    fn the_plan_counts_what_is_there_and_deletes_what_is_over_or_orphaned() {
        let s = spec(vec![centos()]);
        let today = date("2026-03-10");
        let servers = [
            server(
                "1",
                "centos7-small",
                "2026-03-01T00:00:00Z",
                PooledServerState::Ready,
            ),
            server(
                "2",
                "centos7-small",
                "2026-03-09T00:00:00Z",
                PooledServerState::Creating,
            ),
            server(
                "3",
                "centos7-small",
                "2026-01-01T00:00:00Z",
                PooledServerState::Ready,
            ),
            server(
                "4",
                "centos7-small",
                "2026-03-01T00:00:00Z",
                PooledServerState::Expiring,
            ),
            server(
                "5",
                "removed-config",
                "2026-03-01T00:00:00Z",
                PooledServerState::Ready,
            ),
            server(
                "6",
                "centos7-small",
                "2026-01-01T00:00:00Z",
                PooledServerState::Taking,
            ),
        ];
        let sales: Vec<Sale> = (0..5)
            .map(|_| Sale {
                shape: centos_order(),
                on: today,
            })
            .collect();
        let p = plan(&s, &servers, &sales, &UTC, today);
        assert_eq!(
            p.configurations,
            [ConfigurationPlan {
                name: "centos7-small".into(),
                sold: 5,
                desired: 4,
                ready: 1,
                creating: 1,
                create: 2,
            }]
        );
        assert_eq!(p.ready(), 1);
        assert_eq!(p.delete, ["3", "4", "5"]);
        // A pool over its size creates nothing and deletes nothing young.
        let quiet = plan(&s, &servers, &[], &UTC, today);
        assert_eq!(quiet.configurations[0].create, 0);
        assert_eq!(quiet.delete, ["3", "4", "5"]);
    }

    #[test]
    fn equal_configurations_do_not_count_a_sale_twice() {
        let twin = config("centos7-twin", "CentOS-7");
        let s = spec(vec![centos(), twin.clone()]);
        let today = date("2026-03-10");
        let sales = [Sale {
            shape: centos_order(),
            on: today,
        }];
        assert_eq!(sold_in_window(&s, &centos(), &sales, today), 1);
        assert_eq!(sold_in_window(&s, &twin, &sales, today), 0);
        // Either twin's servers serve the order.
        let servers = [server(
            "9",
            "centos7-twin",
            "2026-03-09T00:00:00Z",
            PooledServerState::Ready,
        )];
        assert!(take(&s, &servers, &centos_order(), &UTC, today).is_some());
    }

    fn table() -> impl Strategy<Value = Vec<SalesBucket>> {
        (
            prop::collection::vec((1u32..40, 0u32..20), 0..6),
            prop::option::of(0u32..30),
        )
            .prop_map(|(rows, open)| {
                let mut t: Vec<SalesBucket> =
                    rows.into_iter().map(|(m, s)| bucket(Some(m), s)).collect();
                if let Some(s) = open {
                    t.push(bucket(None, s));
                }
                t
            })
    }

    proptest! {
        #[test]
        fn pool_size_is_monotonic_in_sales(t in table(), a in 0u32..60, b in 0u32..60) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(target_size(&t, lo) <= target_size(&t, hi));
        }

        #[test]
        fn aged_servers_are_never_taken_and_always_deleted(
            created in prop::collection::vec(0i64..400, 1..8),
            max_months in 1u32..6,
            today_offset in 0i64..500,
        ) {
            let base = date("2025-01-01");
            let today = add_days(base, today_offset).unwrap();
            let mut s = spec(vec![centos()]);
            s.max_months_in_pool = max_months;
            let servers: Vec<PooledServer> = created
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let day = add_days(base, *d).unwrap();
                    server(&i.to_string(), "centos7-small", &format!("{day}T12:00:00Z"), PooledServerState::Ready)
                })
                .collect();
            let p = plan(&s, &servers, &[], &UTC, today);
            for sv in &servers {
                let day = created_on(sv, &UTC).unwrap();
                let over = add_months(day, i64::from(max_months)).unwrap() <= today;
                prop_assert_eq!(p.delete.contains(&sv.id), over);
            }
            if let Some(taken) = take(&s, &servers, &centos_order(), &UTC, today) {
                prop_assert!(!p.delete.contains(&taken.id));
                // The oldest of those not aged.
                let taken_day = created_on(taken, &UTC).unwrap();
                for sv in &servers {
                    if !p.delete.contains(&sv.id) {
                        prop_assert!(created_on(sv, &UTC).unwrap() >= taken_day);
                    }
                }
            }
        }
    }
}
