//! Plumbing behind [`super::LocalCluster`]: spawning children that cannot outlive us, and
//! small probes. Kept apart so the cluster lifecycle reads top-down.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{Context, bail};

/// Prefix of every cluster's temp dir; [`sweep_stale_dirs`] only touches these.
pub(super) const DIR_PREFIX: &str = "hostplane-testbed-";

/// File in a cluster dir naming the owning process, so dirs of crashed runs can be reaped.
pub(super) const OWNER_FILE: &str = "owner.pid";

/// Asks the kernel for `n` distinct free loopback ports. They are released before use,
/// so another process could grab one in between; on a test machine that is rare enough.
pub(super) fn free_ports<const N: usize>() -> io::Result<[u16; N]> {
    let listeners = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<io::Result<Vec<_>>>()?;
    let mut ports = [0; N];
    for (port, l) in ports.iter_mut().zip(&listeners) {
        *port = l.local_addr()?.port();
    }
    Ok(ports)
}

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// The thread that forks our children. `PR_SET_PDEATHSIG` fires when the *thread* that
/// forked a child exits, so children are forked here, by a thread that lives exactly as
/// long as the cluster (or the process, for a `static` cluster that is never dropped).
pub(super) struct Keeper {
    requests: Option<mpsc::Sender<SpawnRequest>>,
    thread: Option<JoinHandle<()>>,
}

impl Keeper {
    pub(super) fn new() -> io::Result<Keeper> {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        let thread = thread::Builder::new()
            .name("testbed-keeper".into())
            .spawn(move || {
                // Ends when the cluster drops the sender; children still alive then get SIGKILL.
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })?;
        Ok(Keeper {
            requests: Some(tx),
            thread: Some(thread),
        })
    }

    /// Spawns `cmd` (output appended to `log`) so that it is SIGKILLed when we die.
    pub(super) fn spawn(&self, mut cmd: Command, log: &Path) -> anyhow::Result<Child> {
        let name = cmd.get_program().to_string_lossy().into_owned();
        let file = File::options().create(true).append(true).open(log)?;
        cmd.stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        die_with_parent(&mut cmd);
        let (tx, rx) = mpsc::channel();
        let requests = self.requests.as_ref().context("keeper already stopped")?;
        requests
            .send((cmd, tx))
            .ok()
            .context("keeper thread is gone")?;
        let child = rx.recv().context("keeper thread is gone")?;
        child.with_context(|| format!("spawning {name}"))
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        drop(self.requests.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe libc calls, no allocation.
    unsafe {
        cmd.pre_exec(move || {
            // Own process group: a terminal Ctrl-C reaches only us, and we tear down in order.
            libc::setpgid(0, 0);
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

/// One plain-HTTP GET of etcd's `/health`; true when etcd reports itself healthy.
pub(super) fn etcd_healthy(port: u16) -> bool {
    let probe = || -> io::Result<String> {
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut body = String::new();
        s.read_to_string(&mut body)?;
        Ok(body)
    };
    probe().is_ok_and(|b| b.contains(r#""health":"true""#))
}

/// Creates the service-account RSA key pair (`sa.key`, `sa.pub`) in `dir` with openssl.
pub(super) fn make_service_account_keys(dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let (key, public) = (dir.join("sa.key"), dir.join("sa.pub"));
    let run = |args: &[&std::ffi::OsStr]| -> anyhow::Result<()> {
        let out = Command::new("openssl").args(args).output().context(
            "running openssl (needed for the service-account key; install the openssl CLI)",
        )?;
        if !out.status.success() {
            bail!(
                "openssl {:?} failed: {}",
                args,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    };
    run(&[
        "genrsa".as_ref(),
        "-out".as_ref(),
        key.as_os_str(),
        "2048".as_ref(),
    ])?;
    run(&[
        "rsa".as_ref(),
        "-in".as_ref(),
        key.as_os_str(),
        "-pubout".as_ref(),
        "-out".as_ref(),
        public.as_os_str(),
    ])?;
    Ok((key, public))
}

/// A random hex bearer token for the admin user.
pub(super) fn random_token() -> io::Result<String> {
    let mut bytes = [0u8; 16];
    File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The last `lines` lines of a log file, for error messages.
pub(super) fn tail(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// Removes cluster dirs left by processes that died without cleaning up (SIGKILL, abort).
/// Their children died with them (PDEATHSIG); only the files, etcd's 64 MB WAL among them,
/// would stay behind.
pub(super) fn sweep_stale_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let ours = entry.file_name().to_string_lossy().starts_with(DIR_PREFIX);
        let owner = fs::read_to_string(path.join(OWNER_FILE))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        // SAFETY: kill with signal 0 only checks whether the pid exists.
        if let (true, Some(pid)) = (ours, owner)
            && unsafe { libc::kill(pid, 0) } != 0
            && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
        {
            let _ = fs::remove_dir_all(&path);
        }
    }
}
