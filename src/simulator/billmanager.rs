//! Simulated BILLmanager licensing server at `/billmgr` and `/manager/billmgr` (reference §5,
//! checklist §7.8).
//!
//! Licenses (`soft`) are bought with `soft.order.param … skipbasket=on` and paid from the
//! partner's balance (price per month of the pricelist × months); an order the balance cannot
//! pay is refused with `client`/`balance` and nothing is debited. Ids increment. A new license
//! shows an empty `lickey` for the first `key_polls` views of `soft.edit`, then a key.
//! `expiredate` = order date + period months on the shared clock; `service.prolong` extends it
//! (from today when already expired) and is debited too.
//!
//! Status codes (reference §5.3): 5 processing until the key exists, 2 active, 3 stopped
//! (suspended, or past `expiredate`), 4 deleted (by `soft.delete`, or a month after expiry, as
//! the vendor drops expired licenses). Code 1 (ordered, unpaid) never occurs: without a cart
//! every order is paid at once.

use jiff::Span;
use jiff::civil::Date;
use rust_decimal::Decimal;

use super::Sim;
use super::mgr::{self, Call, MgrErr, Product, ok, ok_with_id};
use super::profile::IdPlacement;
use super::state::{Charge, License};
use crate::panel::mgr::Node;

pub static PRODUCT: Product = Product {
    name: "billmgr",
    auth: |s| &mut s.billmgr.auth,
    user_level: |_, _| None,
    dispatch,
};

pub fn routes() -> axum::Router<Sim> {
    mgr::routes(&PRODUCT, &["/billmgr", "/manager/billmgr"])
}

fn dispatch(call: &mut Call<'_>) -> Result<Node, MgrErr> {
    match call.func {
        "whoami" => {
            let mut user = Node::default();
            user.set_attr("name", &call.user)
                .set_attr("level", call.level.to_string());
            let mut doc = Node::default();
            doc.push("user", user);
            Ok(doc)
        }
        "soft" => {
            let today = call.today;
            let with_remoteid = call.dialect.soft_lists_remoteid;
            let mut doc = Node::default();
            for l in call.state.billmgr.licenses.values() {
                doc.push("elem", license_node(l, today, false, with_remoteid));
            }
            Ok(doc)
        }
        "soft.order.param" => order(call),
        "soft.edit" => edit(call),
        "service.prolong" => prolong(call),
        "service.changepricelist" => {
            let id = one(call)?;
            if !call.sok() {
                return Ok(license_node(
                    &call.state.billmgr.licenses[&id],
                    call.today,
                    false,
                    true,
                ));
            }
            let pricelist = call.require("pricelist")?.to_owned();
            if !call.state.billmgr.prices.contains_key(&pricelist) {
                return Err(MgrErr::value(
                    "pricelist",
                    &pricelist,
                    format!("Unknown tariff plan '{pricelist}'"),
                ));
            }
            let period = match call.param("period") {
                Some(p) => Some(months(p)?),
                None => None,
            };
            let license = call.state.billmgr.licenses.get_mut(&id).expect("checked");
            license.pricelist = pricelist;
            if let Some(p) = period {
                license.period = p;
            }
            call.changed = true;
            Ok(ok())
        }
        "soft.suspend" | "soft.resume" => {
            let suspend = call.func == "soft.suspend";
            for id in live(call)? {
                call.state
                    .billmgr
                    .licenses
                    .get_mut(&id)
                    .expect("checked")
                    .suspended = suspend;
            }
            call.changed = true;
            Ok(ok())
        }
        "soft.delete" => {
            for id in live(call)? {
                call.state
                    .billmgr
                    .licenses
                    .get_mut(&id)
                    .expect("checked")
                    .deleted = true;
            }
            call.changed = true;
            Ok(ok())
        }
        other => Err(MgrErr::missed("func", other)),
    }
}

/// Period codes in months; `-100` is a trial (one month, free).
fn months(period: &str) -> Result<i32, MgrErr> {
    match period.trim().parse::<i32>() {
        Ok(p @ (1 | 3 | 6 | 12 | 24 | 36 | -100)) => Ok(p),
        _ => Err(MgrErr::value(
            "period",
            period,
            format!("Invalid period '{period}'"),
        )),
    }
}

fn add_months(date: Date, period: i32) -> Date {
    let months = if period < 0 { 1 } else { period };
    date.checked_add(Span::new().months(months)).unwrap_or(date)
}

fn expired(l: &License, today: Date) -> bool {
    l.expiredate.is_some_and(|e| today > e)
}

fn dropped(l: &License, today: Date) -> bool {
    l.deleted || l.expiredate.is_some_and(|e| today > add_months(e, 1))
}

fn status(l: &License, today: Date) -> (&'static str, &'static str) {
    if dropped(l, today) {
        ("4", "deleted")
    } else if l.suspended {
        ("3", "suspended")
    } else if expired(l, today) {
        ("3", "expired")
    } else if l.key_polls_left > 0 {
        ("5", "processing")
    } else {
        ("2", "active")
    }
}

/// One licence as listed (`with_key`: false, `with_remoteid` per the dialect) or as its form
/// shows it (both true). The documented list fields have no `remoteid` (reference §11).
fn license_node(l: &License, today: Date, with_key: bool, with_remoteid: bool) -> Node {
    let date = |d: Option<Date>| d.map(|d| d.to_string()).unwrap_or_default();
    let (code, msg) = status(l, today);
    let mut e = Node::default();
    e.push_text("id", l.id.to_string())
        .push_text("licname", &l.licname)
        .push_text("ip", &l.ip)
        .push_text("pricelist", &l.pricelist)
        .push_text("period", l.period.to_string())
        .push_text("createdate", date(l.createdate))
        .push_text("expiredate", date(l.expiredate))
        .push_text("autoprolong", &l.autoprolong)
        .push_text("status", code)
        .push_text("item_status", code)
        .push_text("status_msg", msg);
    if with_remoteid {
        e.push_text("remoteid", &l.remoteid);
    }
    if with_key {
        e.push_text("lickey", if l.key_polls_left > 0 { "" } else { &l.lickey });
    }
    e
}

/// The single `elid`, known; `value`/`elid` otherwise.
fn one(call: &Call<'_>) -> Result<u64, MgrErr> {
    let elid = call.param("elid").ok_or_else(|| MgrErr::required("elid"))?;
    elid.trim()
        .parse::<u64>()
        .ok()
        .filter(|id| call.state.billmgr.licenses.contains_key(id))
        .ok_or_else(|| MgrErr::no_elid(elid))
}

/// Every `elid`, known and not deleted.
fn live(call: &Call<'_>) -> Result<Vec<u64>, MgrErr> {
    let elids = call.elids();
    if elids.is_empty() {
        return Err(MgrErr::required("elid"));
    }
    elids
        .iter()
        .map(|e| {
            e.parse::<u64>()
                .ok()
                .filter(|id| {
                    call.state
                        .billmgr
                        .licenses
                        .get(id)
                        .is_some_and(|l| !dropped(l, call.today))
                })
                .ok_or_else(|| MgrErr::no_elid(e))
        })
        .collect()
}

fn cost(call: &Call<'_>, pricelist: &str, period: i32) -> Result<Decimal, MgrErr> {
    let monthly = call.state.billmgr.prices.get(pricelist).ok_or_else(|| {
        MgrErr::value(
            "pricelist",
            pricelist,
            format!("Unknown tariff plan '{pricelist}'"),
        )
    })?;
    Ok(if period < 0 {
        Decimal::ZERO
    } else {
        monthly * Decimal::from(period)
    })
}

fn debit(
    call: &mut Call<'_>,
    license: u64,
    remoteid: &str,
    what: &str,
    amount: Decimal,
) -> Result<(), MgrErr> {
    let bill = &mut call.state.billmgr;
    if bill.balance < amount {
        return Err(MgrErr::client(
            "balance",
            format!(
                "Insufficient funds: {amount} is needed, the balance is {}",
                bill.balance
            ),
        ));
    }
    bill.balance -= amount;
    bill.charges.push(Charge {
        license,
        remoteid: remoteid.to_owned(),
        what: what.to_owned(),
        amount,
        date: call.today,
    });
    Ok(())
}

fn lickey(id: u64) -> String {
    let body: String = (0..4)
        .map(|_| format!("{:08X}", rand::random::<u32>()))
        .collect::<Vec<_>>()
        .join("-");
    format!("{id}-{body}")
}

/// `soft.order.param`: the form without `sok`; with it, a paid license (`skipbasket=on`).
fn order(call: &mut Call<'_>) -> Result<Node, MgrErr> {
    if !call.sok() {
        let mut doc = Node::default();
        doc.push_text("pricelist", call.param("pricelist").unwrap_or(""))
            .push_text("period", "1")
            .push_text("ip", "")
            .push_text("licname", "")
            .push_text("skipbasket", "off");
        return Ok(doc);
    }
    if call.param("skipbasket") != Some("on") {
        return Err(MgrErr::value(
            "skipbasket",
            call.param("skipbasket").unwrap_or(""),
            "Only direct purchases (skipbasket=on) are simulated; the cart is not",
        ));
    }
    let pricelist = call.require("pricelist")?.to_owned();
    let period = months(call.param("period").unwrap_or("1"))?;
    let ip = call.require("ip")?.to_owned();
    if ip.parse::<std::net::IpAddr>().is_err() {
        return Err(MgrErr::value(
            "ip",
            &ip,
            format!("Invalid IP address '{ip}'"),
        ));
    }
    let amount = cost(call, &pricelist, period)?;
    let id = call.state.billmgr.next_id;
    let remoteid = call.params.raw("remoteid").unwrap_or("").to_owned();
    debit(call, id, &remoteid, "order", amount)?;
    let addons = call
        .params
        .with_prefix("addon_")
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let bill = &mut call.state.billmgr;
    bill.next_id += 1;
    bill.licenses.insert(
        id,
        License {
            id,
            pricelist,
            period,
            licname: call.params.raw("licname").unwrap_or("").to_owned(),
            ip,
            remoteid,
            autoprolong: call.params.raw("autoprolong").unwrap_or("null").to_owned(),
            addons,
            createdate: Some(call.today),
            expiredate: Some(add_months(call.today, period)),
            lickey: lickey(id),
            key_polls_left: bill.key_polls,
            suspended: false,
            deleted: false,
        },
    );
    call.changed = true;
    Ok(order_answer(id, call.dialect.order_id))
}

/// The answer to a paid order, with the id where the dialect puts it (reference §11).
fn order_answer(id: u64, placement: IdPlacement) -> Node {
    match placement {
        IdPlacement::Id => ok_with_id(id),
        IdPlacement::ItemId => {
            let mut item = Node::default();
            item.push_text("id", id.to_string());
            let mut doc = ok();
            doc.push("item", item);
            doc
        }
        IdPlacement::IdV => {
            let mut v = Node::default();
            v.push_text("v", id.to_string());
            let mut doc = ok();
            doc.push("id", v);
            doc
        }
    }
}

/// `soft.edit`: view (the key appears after a few views), change (`licname`, `ip`,
/// `remoteid`), or a new key (`clicked_button=newkey`).
fn edit(call: &mut Call<'_>) -> Result<Node, MgrErr> {
    let id = one(call)?;
    let today = call.today;
    if !call.sok() {
        let license = call.state.billmgr.licenses.get_mut(&id).expect("checked");
        let mut doc = license_node(license, today, true, true);
        doc.push_text("pricelist_name", format!("Pricelist {}", license.pricelist));
        if license.key_polls_left > 0 {
            license.key_polls_left -= 1;
            call.changed = true;
        }
        return Ok(doc);
    }
    if dropped(&call.state.billmgr.licenses[&id], today) {
        return Err(MgrErr::no_elid(&id.to_string()));
    }
    let ip = call.params.raw("ip").map(str::to_owned);
    if let Some(ip) = &ip
        && ip.parse::<std::net::IpAddr>().is_err()
    {
        return Err(MgrErr::value(
            "ip",
            ip,
            format!("Invalid IP address '{ip}'"),
        ));
    }
    let licname = call.params.raw("licname").map(str::to_owned);
    let remoteid = call.params.raw("remoteid").map(str::to_owned);
    let newkey = call.param("clicked_button") == Some("newkey");
    let license = call.state.billmgr.licenses.get_mut(&id).expect("checked");
    if let Some(ip) = ip {
        license.ip = ip;
    }
    if let Some(licname) = licname {
        license.licname = licname;
    }
    if let Some(remoteid) = remoteid {
        license.remoteid = remoteid;
    }
    if newkey {
        license.lickey = lickey(id);
    }
    call.changed = true;
    let mut doc = ok();
    if newkey {
        doc.push_text("lickey", &license.lickey);
    }
    Ok(doc)
}

/// `service.prolong`: extends by `period` months and debits the price.
fn prolong(call: &mut Call<'_>) -> Result<Node, MgrErr> {
    let ids = live(call)?;
    let id = ids[0];
    let today = call.today;
    if !call.sok() {
        return Ok(license_node(
            &call.state.billmgr.licenses[&id],
            today,
            false,
            true,
        ));
    }
    let period = months(call.param("period").unwrap_or("1"))?;
    if period < 0 {
        return Err(MgrErr::value(
            "period",
            "-100",
            "A trial cannot be prolonged",
        ));
    }
    let (pricelist, remoteid) = {
        let license = &call.state.billmgr.licenses[&id];
        (license.pricelist.clone(), license.remoteid.clone())
    };
    let amount = cost(call, &pricelist, period)?;
    debit(call, id, &remoteid, "prolong", amount)?;
    let license = call.state.billmgr.licenses.get_mut(&id).expect("checked");
    let base = match license.expiredate {
        Some(e) if e >= today => e,
        _ => today,
    };
    let new = add_months(base, period);
    license.expiredate = Some(new);
    call.changed = true;
    // The official module reads /doc/doc/newexpiredate; it is sent there and at the top.
    let mut inner = Node::default();
    inner.push_text("newexpiredate", new.to_string());
    let mut doc = ok();
    doc.push_text("newexpiredate", new.to_string())
        .push("doc", inner);
    Ok(doc)
}
