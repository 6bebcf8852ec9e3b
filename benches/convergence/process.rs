//! CPU seconds and memory of the run's processes (this one, the controller, the simulator,
//! kube-apiserver, etcd), from `/proc`.

use super::*;

/// (VmRSS, VmHWM) in KiB of a process (`self` or a pid).
pub(super) fn memory_of(pid: &str) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// The test bed's servers among the children of this process: (command name, pid).
pub(super) fn servers() -> Vec<(String, String)> {
    let me = std::process::id().to_string();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = &stat[open + 1..close];
        let ppid = stat[close + 1..].split_whitespace().nth(1);
        if ppid == Some(me.as_str()) && ["etcd", "kube-apiserver"].contains(&name) {
            out.push((name.to_owned(), pid));
        }
    }
    out
}

/// CPU seconds (user + system) a process has used so far, from `/proc/PID/stat`.
pub(super) fn cpu_of(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    // After the command: state is field 3, utime 14 and stime 15.
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Some((utime + stime) as f64 / ticks)
}

/// The measured processes by role: (role, pid or `self`).
#[derive(Clone, Debug, Default)]
pub(super) struct Procs(pub(super) Vec<(String, String)>);

impl Procs {
    /// This process and the test bed's servers.
    pub(super) fn new() -> Procs {
        let mut out = vec![("bench".to_owned(), "self".to_owned())];
        out.extend(servers());
        Procs(out)
    }

    pub(super) fn add(&mut self, role: &str, pid: u32) {
        self.0.push((role.to_owned(), pid.to_string()));
    }

    pub(super) fn cpu(&self) -> Cpu {
        Cpu(self
            .0
            .iter()
            .filter_map(|(role, pid)| Some((role.clone(), cpu_of(pid)?)))
            .collect())
    }

    /// Peak RSS (VmHWM) of each, in KiB; read before any of them is stopped.
    pub(super) fn peaks(&self) -> BTreeMap<String, u64> {
        self.0
            .iter()
            .filter_map(|(role, pid)| Some((role.clone(), memory_of(pid)?.1)))
            .collect()
    }

    pub(super) fn peak_of(&self, role: &str) -> Option<u64> {
        let (_, pid) = self.0.iter().find(|(r, _)| r == role)?;
        memory_of(pid).map(|(_, hwm)| hwm)
    }
}

/// CPU seconds so far of each process, by role.
#[derive(Clone, Debug, Default)]
pub(super) struct Cpu(pub(super) BTreeMap<String, f64>);

impl Cpu {
    pub(super) fn since(&self, before: &Cpu) -> Cpu {
        Cpu(self
            .0
            .iter()
            .map(|(k, v)| (k.clone(), v - before.0.get(k).copied().unwrap_or(0.0)))
            .collect())
    }

    pub(super) fn describe(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k} {v:.1}")).collect();
        parts.join(", ")
    }
}

pub(super) fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}
