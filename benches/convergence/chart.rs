//! The SVG chart (hand-written): services Ready over time for the controller and the floor,
//! and the API server's writes per second of each.

use super::*;

const WIDTH: f64 = 900.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const CONTROLLER: &str = "#1f6fd1";
const FLOOR: &str = "#999999";

/// A panel: its top and height in the picture, and the y range it shows.
struct Panel {
    top: f64,
    height: f64,
    y_max: f64,
    x_max: f64,
}

impl Panel {
    fn x(&self, t: f64) -> f64 {
        LEFT + t / self.x_max * (WIDTH - LEFT - RIGHT)
    }

    fn y(&self, v: f64) -> f64 {
        self.top + self.height - v / self.y_max * self.height
    }

    fn line(&self, out: &mut String, points: &[(f64, f64)], colour: &str, dashed: bool) {
        let points: Vec<String> = points
            .iter()
            .map(|(t, v)| format!("{:.1},{:.1}", self.x(*t), self.y(*v)))
            .collect();
        let dash = if dashed {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash} points=\"{}\"/>",
            points.join(" ")
        );
    }

    /// Frame, horizontal grid with labels, the x ticks in seconds, and a title.
    fn axes(&self, out: &mut String, title: &str) {
        let bottom = self.top + self.height;
        let _ = writeln!(
            out,
            "<text x=\"{LEFT}\" y=\"{:.0}\" font-weight=\"bold\">{title}</text>",
            self.top - 8.0
        );
        for i in 0..=4 {
            let v = self.y_max * f64::from(i) / 4.0;
            let y = self.y(v);
            let _ = writeln!(
                out,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.0}\" y2=\"{y:.1}\" stroke=\"#e4e4e4\"/>\
                 <text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{v:.0}</text>",
                WIDTH - RIGHT,
                LEFT - 6.0,
                y + 4.0
            );
        }
        let step = nice_step(self.x_max / 8.0);
        let places = if step < 1.0 { 1 } else { 0 };
        let mut t = 0.0;
        while t <= self.x_max + 1e-9 {
            let x = self.x(t);
            let _ = writeln!(
                out,
                "<line x1=\"{x:.1}\" y1=\"{bottom:.0}\" x2=\"{x:.1}\" y2=\"{:.0}\" stroke=\"#555\"/>\
                 <text x=\"{x:.1}\" y=\"{:.0}\" text-anchor=\"middle\">{t:.places$} s</text>",
                bottom + 5.0,
                bottom + 18.0
            );
            t += step;
        }
        let _ = writeln!(
            out,
            "<rect x=\"{LEFT}\" y=\"{:.0}\" width=\"{:.0}\" height=\"{:.0}\" fill=\"none\" stroke=\"#555\"/>",
            self.top,
            WIDTH - LEFT - RIGHT,
            self.height
        );
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = raw.max(1e-9);
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power)
}

/// The chart of `controller` (services Ready) against `floor` (status writes done), if the
/// floor ran, for `n` services.
pub(super) fn svg(n: usize, controller: &Series, floor: Option<&Series>, title: &str) -> String {
    let x_max = controller
        .last_t()
        .max(floor.map_or(0.0, Series::last_t))
        .max(1.0);
    let ready = Panel {
        top: 60.0,
        height: 260.0,
        y_max: n as f64,
        x_max,
    };
    let rates = |s: &Series| s.write_rates();
    let peak = rates(controller)
        .into_iter()
        .chain(floor.map(rates).unwrap_or_default())
        .map(|(_, r)| r)
        .fold(1.0, f64::max);
    let writes = Panel {
        top: 380.0,
        height: 160.0,
        y_max: nice_step(peak / 4.0) * 4.0,
        x_max,
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"600\" \
         viewBox=\"0 0 {WIDTH} 600\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{LEFT}\" y=\"24\" font-size=\"15\" font-weight=\"bold\">{title}</text>"
    );
    ready.axes(&mut out, "services Ready (floor: status written)");
    writes.axes(&mut out, "API server writes per second (every client)");
    let points = |s: &Series| -> Vec<(f64, f64)> {
        s.samples.iter().map(|p| (p.t, p.ready as f64)).collect()
    };
    if let Some(floor) = floor {
        ready.line(&mut out, &points(floor), FLOOR, true);
        writes.line(&mut out, &rates(floor), FLOOR, true);
    }
    ready.line(&mut out, &points(controller), CONTROLLER, false);
    writes.line(&mut out, &rates(controller), CONTROLLER, false);
    let legend_y = 585.0;
    let _ = writeln!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{y:.0}\" x2=\"{:.0}\" y2=\"{y:.0}\" stroke=\"{CONTROLLER}\" stroke-width=\"2\"/>\
         <text x=\"{:.0}\" y=\"{:.0}\">controller (hostplane controller process)</text>",
        LEFT + 30.0,
        LEFT + 36.0,
        legend_y + 4.0,
        y = legend_y
    );
    if floor.is_some() {
        let x = LEFT + 330.0;
        let _ = writeln!(
            out,
            "<line x1=\"{x:.0}\" y1=\"{y:.0}\" x2=\"{:.0}\" y2=\"{y:.0}\" stroke=\"{FLOOR}\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\
             <text x=\"{:.0}\" y=\"{:.0}\">floor (create + one status write, no controller)</text>",
            x + 30.0,
            x + 36.0,
            legend_y + 4.0,
            y = legend_y
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Writes the chart to `target/bench/convergence-N.svg` (under `CARGO_TARGET_DIR` when set).
pub(super) fn write(n: usize, svg: &str) -> anyhow::Result<PathBuf> {
    let path = bench_dir()?.join(format!("convergence-{n}.svg"));
    std::fs::write(&path, svg).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// `target/bench` (under `CARGO_TARGET_DIR` when set), created.
pub(super) fn bench_dir() -> anyhow::Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
