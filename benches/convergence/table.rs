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
        "one ISPmanager module on the simulator process (limits: {MODULE_CONCURRENCY} concurrent, {MODULE_RPS} req/s), one tariff, one client; the controller process alone, concurrency {}, drift interval {} s; connection Secrets: {}; {} creates in flight; kube-apiserver + etcd in TMPDIR={}; logs in {}\n",
        s.concurrency,
        s.drift.as_secs(),
        if s.connection_secrets { "yes" } else { "no" },
        s.parallel,
        std::env::temp_dir().display(),
        r.logs.display()
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
        "  bench watch events (first list included)",
        c.watch_events,
    );
    let samples = c.series.samples.len().saturating_sub(1).max(1);
    row(
        &mut out,
        "  bench samples (API server /metrics reads)",
        format!(
            "{samples}, {} ms each",
            (c.series.scrape_time / samples as u32).as_millis()
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
    let reconciles = total(&c.reconciles.counts);
    row(
        &mut out,
        "reconciles per service (all kinds)",
        format!("{} ({reconciles} in all)", per(reconciles, n)),
    );
    row(
        &mut out,
        "  kind (outcome)",
        "per svc   count, mean duration, total",
    );
    for (what, count) in &c.reconciles.counts {
        let micros = c.reconciles.micros.get(what).copied().unwrap_or(0) as f64;
        row(
            &mut out,
            &format!("  {what}"),
            format!(
                "{:>9}  {count}, {:.1} ms, {:.1} s",
                per(*count, n),
                micros / 1000.0 / (*count).max(1) as f64,
                micros / 1e6
            ),
        );
    }
    row(&mut out, "CPU seconds while converging", c.cpu.describe());
    row(
        &mut out,
        "CPU seconds, floor start to end",
        r.cpu.describe(),
    );
    row(&mut out, "peak RSS (VmHWM) at the end", "");
    for (role, hwm) in &r.peaks {
        row(&mut out, &format!("  {role}"), mib(*hwm));
    }
    if let Some(hwm) = r.controller_peak_converged {
        row(
            &mut out,
            "  controller's peak when all were Ready",
            mib(hwm),
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
    let all_writes = writes + n as u64;
    if let Some(f) = &r.floor {
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
    } else {
        row(&mut out, "floor", "skipped (HOSTPLANE_BENCH_FLOOR=0)");
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
        "\nreconciles are the controller's hostplane_reconciles_total by kind and outcome; API \
         writes count every client but the bench's creates; CPU seconds are user + system of \
         each process."
    );
    println!("{out}");
}
