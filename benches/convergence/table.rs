//! The printed table of figures.

use super::*;

pub(super) fn row(out: &mut String, what: &str, figure: impl Display) {
    let _ = writeln!(out, "{what:<46} {figure}");
}

pub(super) fn per(n: u64, services: usize) -> String {
    format!("{:.2}", n as f64 / services as f64)
}

pub(super) fn breakdown(out: &mut String, lines: Vec<(String, u64)>, services: usize, unit: &str) {
    for (what, n) in lines {
        row(
            out,
            &format!("  {what}"),
            format!("{:>9}  {n}", format!("{} {unit}", per(n, services))),
        );
    }
}

pub(super) fn rates(out: &mut String, label: &str, w: &Window) {
    let secs = w.length.as_secs_f64();
    let writes = w.requests.write_total();
    let calls = total(&w.calls);
    row(
        out,
        &format!("{label}: API writes"),
        format!("{:.2}/s ({writes} in {secs:.0} s)", writes as f64 / secs),
    );
    for (what, n) in w.requests.write_lines() {
        row(out, &format!("  {what}"), n);
    }
    row(
        out,
        &format!("{label}: panel calls"),
        format!("{:.2}/s ({calls} in {secs:.0} s)", calls as f64 / secs),
    );
    for (what, n) in &w.calls {
        row(out, &format!("  {what}"), n);
    }
    row(
        out,
        &format!("{label}: reconciles"),
        format!("{} in {secs:.0} s", total(&w.reconciles)),
    );
    for (what, n) in &w.reconciles {
        row(out, &format!("  {what}"), n);
    }
    row(out, &format!("{label}: CPU seconds"), w.cpu.describe());
}

pub(super) fn print_report(r: &Report, s: &Settings) {
    let n = r.services;
    let c = &r.convergence;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nconvergence of {n} SharedHosting services applied at once (cargo bench --bench convergence -- {n}{})",
        if s.connection_secrets {
            " --connection-secrets"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "one ISPmanager module on the in-process simulator (limits: {MODULE_CONCURRENCY} concurrent, {MODULE_RPS} req/s), one tariff, one client; controller concurrency {}, drift interval {} s; connection Secrets: {}; {} creates in flight; kube-apiserver + etcd in TMPDIR={}\n",
        s.concurrency,
        s.drift.as_secs(),
        if s.connection_secrets { "yes" } else { "no" },
        s.parallel,
        std::env::temp_dir().display()
    );
    if let Some(why) = &r.incomplete {
        let _ = writeln!(
            out,
            "INCOMPLETE, figures up to the end of the convergence phase (per service = per service applied): {why}\n"
        );
    }
    row(&mut out, "what", "figure");
    row(&mut out, &"-".repeat(46), "-".repeat(30));
    if r.incomplete.is_none() {
        row(
            &mut out,
            "until all Ready (from the first create)",
            format!(
                "{:.1} s ({:.0} services/s)",
                c.time.as_secs_f64(),
                n as f64 / c.time.as_secs_f64()
            ),
        );
    } else {
        row(
            &mut out,
            "Ready when the convergence phase ended",
            format!(
                "{}/{n} after {:.1} s ({:.1} services/s)",
                r.ready,
                c.time.as_secs_f64(),
                r.ready as f64 / c.time.as_secs_f64()
            ),
        );
    }
    row(
        &mut out,
        "  first Ready / all created",
        format!(
            "{} / {:.1} s",
            c.first_ready
                .map(|d| format!("{:.1} s", d.as_secs_f64()))
                .unwrap_or_else(|| "-".into()),
            c.creates_done.as_secs_f64()
        ),
    );
    row(
        &mut out,
        "  bench list polls",
        format!(
            "{} (mean {} ms each)",
            c.polls,
            (c.poll_time / c.polls.max(1)).as_millis()
        ),
    );
    let writes = c.requests.write_total();
    let events = c.requests.writes_to("events");
    row(
        &mut out,
        "API writes by the controller, per service",
        format!(
            "{} ({writes} in all; {} without events; {} failed)",
            per(writes, n),
            per(writes - events, n),
            c.requests.failed_writes()
        ),
    );
    breakdown(&mut out, c.requests.write_lines(), n, "");
    row(
        &mut out,
        "API GETs by the controller, per service",
        format!("{} ({})", per(c.requests.gets(), n), c.requests.gets()),
    );
    let calls = total(&c.calls);
    row(
        &mut out,
        "panel calls per service",
        format!("{} ({calls} in all)", per(calls, n)),
    );
    breakdown(
        &mut out,
        c.calls.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        n,
        "",
    );
    row(
        &mut out,
        "reconciles per service (all kinds)",
        format!(
            "{} ({} in all)",
            per(total(&c.reconciles), n),
            total(&c.reconciles)
        ),
    );
    row(
        &mut out,
        "  kind (reason)",
        "per svc   count, mean duration (polled / start to end), total polled",
    );
    for (what, count) in &c.reconciles {
        let busy = c.busy.get(what).copied().unwrap_or(0) as f64;
        let wall = c.wall.get(what).copied().unwrap_or(0) as f64;
        let mean = |us: f64| us / 1000.0 / (*count).max(1) as f64;
        row(
            &mut out,
            &format!("  {what}"),
            format!(
                "{:>9}  {count}, {:.2} / {:.0} ms, {:.1} s",
                per(*count, n),
                mean(busy),
                mean(wall),
                busy / 1e6
            ),
        );
    }
    row(
        &mut out,
        "CPU seconds while converging",
        format!(
            "{} (the bench process holds the controller, the simulator and the bench's client)",
            c.cpu.describe()
        ),
    );
    let (rss_before, hwm_before) = r.rss_before.unwrap_or_default();
    let (_, hwm_converged) = r.rss_converged.unwrap_or_default();
    let (rss_end, hwm_end) = r.rss_end.unwrap_or_default();
    row(
        &mut out,
        "peak RSS of the bench process (VmHWM)",
        format!(
            "{} at the end of convergence, {} at the end",
            mib(hwm_converged),
            mib(hwm_end)
        ),
    );
    row(
        &mut out,
        "  before the controller started (VmRSS)",
        format!(
            "{}{}",
            mib(rss_before),
            if r.peak_reset {
                String::new()
            } else {
                format!(
                    "; peak could not be reset, so the peak includes the floor phase (VmHWM {} then)",
                    mib(hwm_before)
                )
            }
        ),
    );
    row(
        &mut out,
        "  controller's share (peak - before)",
        format!(
            "{} (the process also holds the bench's client, its lists, the simulator)",
            mib(hwm_end.saturating_sub(rss_before))
        ),
    );
    row(&mut out, "  RSS at the end (VmRSS)", mib(rss_end));
    for (name, rss, hwm) in &r.children {
        row(
            &mut out,
            &format!("  {name} RSS / peak"),
            format!("{} / {}", mib(*rss), mib(*hwm)),
        );
    }
    if let Some(settle) = &r.settle {
        rates(&mut out, "settle", settle);
    }
    if let Some(steady) = &r.steady {
        rates(&mut out, "steady state", steady);
    }
    if let Some(ready) = r.ready_after_steady {
        row(
            &mut out,
            "  Ready at the end of the steady state",
            format!("{ready}/{n}"),
        );
    }
    let f = &r.floor;
    let floor_writes = f.requests.write_total();
    row(
        &mut out,
        "floor: create + 1 status write, same client",
        format!(
            "{:.1} s ({:.0} services/s), {floor_writes} writes ({} per service)",
            f.time.as_secs_f64(),
            n as f64 / f.time.as_secs_f64(),
            per(floor_writes, n)
        ),
    );
    row(&mut out, "  floor CPU seconds", f.cpu.describe());
    let all_writes = writes + n as u64;
    if r.incomplete.is_none() {
        row(
            &mut out,
            "ratio controller / floor: time",
            format!("{:.1}x", c.time.as_secs_f64() / f.time.as_secs_f64()),
        );
        row(
            &mut out,
            "ratio controller / floor: writes",
            format!(
                "{:.1}x ({} per service incl. the create, vs {})",
                all_writes as f64 / floor_writes.max(1) as f64,
                per(all_writes, n),
                per(floor_writes, n)
            ),
        );
    }
    row(
        &mut out,
        "controller warnings logged",
        format!("{}", r.warnings),
    );
    for w in &r.first_warnings {
        let _ = writeln!(out, "  {w}");
    }
    let _ = writeln!(
        out,
        "\nreconciles are kube-runtime's `reconciling object` spans by kind (reason). A trigger that \
         arrives while the object already has a requeue scheduled runs under that requeue's \
         reason, so \"reconciler requested retry\" also counts reconciles triggered by related \
         objects (tariff, client) of services that already had their timer requeue set."
    );
    println!("{out}");
}
