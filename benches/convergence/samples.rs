//! About once a second during the floor and the convergence: services Ready (for the floor,
//! status writes done) and the API server's writes so far, for the chart.

use super::*;

#[derive(Clone, Copy, Debug)]
pub(super) struct Sample {
    /// Seconds since the phase started.
    pub(super) t: f64,
    pub(super) ready: usize,
    /// API writes (every client's) since the phase started.
    pub(super) writes: u64,
}

/// One phase's samples.
#[derive(Clone, Debug, Default)]
pub(super) struct Series {
    pub(super) samples: Vec<Sample>,
    /// Time spent reading the API server's `/metrics` for the samples.
    pub(super) scrape_time: Duration,
}

impl Series {
    /// The phase's first sample: nothing Ready, no writes, at its start.
    pub(super) fn new() -> Series {
        Series {
            samples: vec![Sample {
                t: 0.0,
                ready: 0,
                writes: 0,
            }],
            scrape_time: Duration::ZERO,
        }
    }

    /// Records `ready` at `t` (since the phase's start) and the writes between `before` (the
    /// phase's start) and `now`.
    pub(super) fn push(&mut self, t: Duration, ready: usize, before: &Requests, now: &Requests) {
        self.samples.push(Sample {
            t: t.as_secs_f64(),
            ready,
            writes: now.since(before).write_total(),
        });
    }

    /// (seconds, writes per second since the sample before), one per sample after the first.
    pub(super) fn write_rates(&self) -> Vec<(f64, f64)> {
        self.samples
            .windows(2)
            .map(|w| {
                let dt = (w[1].t - w[0].t).max(1e-3);
                (w[1].t, w[1].writes.saturating_sub(w[0].writes) as f64 / dt)
            })
            .collect()
    }

    pub(super) fn last_t(&self) -> f64 {
        self.samples.last().map_or(0.0, |s| s.t)
    }
}
