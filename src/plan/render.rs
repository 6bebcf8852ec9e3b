//! The plan as people read it in a pull request.

use std::fmt::Write;

use super::Plan;

pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    if plan.services.is_empty() {
        out.push_str("No changes: the panels already match these manifests.\n");
    }
    for s in &plan.services {
        let new = if s.new { " (new)" } else { "" };
        let _ = writeln!(
            out,
            "HostingService {}/{}{new} on tariff {}:",
            s.namespace, s.name, s.tariff
        );
        if let Some(why) = &s.stalls {
            let _ = writeln!(out, "  ! would be Stalled, nothing done at a panel: {why}");
        }
        for op in &s.operations {
            let mark = if op.action.destructive() { "!" } else { "~" };
            let calls = if op.panel_calls.is_empty() {
                String::new()
            } else {
                format!(" [{}]", op.panel_calls.join(", "))
            };
            let _ = writeln!(
                out,
                "  {mark} {}: {} ({}){calls}",
                op.action.verb(),
                op.detail,
                op.reason
            );
        }
        for m in &s.money {
            let _ = writeln!(
                out,
                "  $ {}: {} -> {} {}",
                m.item,
                m.before.as_deref().unwrap_or("none"),
                m.after.as_deref().unwrap_or("none"),
                m.currency
            );
        }
        for note in &s.notes {
            let _ = writeln!(out, "  note: {note}");
        }
    }
    let touched: Vec<_> = plan
        .tariffs
        .iter()
        .filter(|t| t.services_affected > 0)
        .collect();
    if !touched.is_empty() {
        out.push_str("\nTariffs:\n");
        for t in touched {
            let _ = writeln!(
                out,
                "  {}/{}: {} of {} services affected",
                t.namespace, t.name, t.services_affected, t.services
            );
        }
    }
    if !plan.licenses_to_buy.is_empty() {
        out.push_str("\nLicenses to buy:\n");
        for (license_type, count) in &plan.licenses_to_buy {
            let _ = writeln!(out, "  {count} x {license_type}");
        }
    }
    let counts: Vec<String> = plan
        .counts
        .iter()
        .map(|(verb, n)| format!("{n} {verb}"))
        .collect();
    let _ = writeln!(
        out,
        "\nPlan: {}{}{}",
        if counts.is_empty() {
            "nothing to do at the panels".to_owned()
        } else {
            counts.join(", ")
        },
        if plan.stalled > 0 {
            format!("; {} services would be Stalled", plan.stalled)
        } else {
            String::new()
        },
        if plan.destructive {
            "; destructive: needs approval"
        } else {
            ""
        }
    );
    out
}
