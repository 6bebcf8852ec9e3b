//! A Prometheus histogram: cumulative buckets, sum and count, in the text format.

use std::fmt::Write as _;

/// controller-runtime's buckets for reconcile times (seconds), also used for panel calls: fine
/// below a second, where most work is, and up to a minute, the official modules' timeout.
pub const SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
    1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0,
    25.0, 30.0, 40.0, 50.0, 60.0,
];

/// Observations of one label set.
#[derive(Clone, Debug)]
pub struct Histogram {
    /// Observations at most each bound of [`SECONDS`] (not yet cumulative).
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; SECONDS.len()],
            sum: 0.0,
            count: 0,
        }
    }
}

impl Histogram {
    pub fn observe(&mut self, seconds: f64) {
        if let Some(i) = SECONDS.iter().position(|bound| seconds <= *bound) {
            self.counts[i] += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Appends the `_bucket`, `_sum` and `_count` lines of `name` with `labels` (already
    /// rendered as `k="v",...`).
    pub fn render(&self, name: &str, labels: &str, out: &mut String) {
        let mut cumulative = 0;
        for (bound, n) in SECONDS.iter().zip(&self.counts) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {:.6}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_the_infinite_one_counts_everything() {
        let mut h = Histogram::default();
        for s in [0.001, 0.2, 0.2, 3.0, 120.0] {
            h.observe(s);
        }
        let mut out = String::new();
        h.render("x_seconds", "kind=\"K\"", &mut out);
        assert!(
            out.contains("x_seconds_bucket{kind=\"K\",le=\"0.005\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{kind=\"K\",le=\"0.2\"} 3\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{kind=\"K\",le=\"60\"} 4\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{kind=\"K\",le=\"+Inf\"} 5\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_sum{kind=\"K\"} 123.401000\n"),
            "{out}"
        );
        assert!(out.contains("x_seconds_count{kind=\"K\"} 5\n"), "{out}");
    }
}
