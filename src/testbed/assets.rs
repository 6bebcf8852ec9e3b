//! Finding etcd, kube-apiserver and kubectl at run time.
//!
//! Why not run `scripts/kube-binaries.sh` from here: the binary would need the path of the
//! checkout it was built in, which does not exist where the binary is copied. The script
//! stays the way to build and cache them; this only looks where it puts them, and otherwise
//! says what to run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::bail;

/// Binaries a cluster needs, in the envtest `KUBEBUILDER_ASSETS` layout.
const BINARIES: [&str; 3] = ["etcd", "kube-apiserver", "kubectl"];

/// Where `scripts/kube-binaries.sh` caches its build, under the cache dir.
const CACHED: &str = "kube-1.20.2/bin";

/// Returns a directory holding all three binaries: `$KUBEBUILDER_ASSETS` when complete, else
/// `PATH` when all three are on it (a directory of links to them is made in the cache dir),
/// else the cache (`$HOSTPLANE_CACHE`, default `~/.cache/hostplane`). Fails with what to run
/// when none has them.
pub(super) fn find() -> anyhow::Result<PathBuf> {
    let from_env = std::env::var_os("KUBEBUILDER_ASSETS").map(PathBuf::from);
    let cache = cache_dir();
    find_in(
        from_env.as_deref(),
        std::env::var_os("PATH"),
        cache.as_deref(),
    )
}

fn find_in(
    from_env: Option<&Path>,
    path: Option<OsString>,
    cache: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    if let Some(dir) = from_env
        && missing(dir).is_empty()
    {
        return Ok(dir.to_path_buf());
    }
    let on_path: Vec<PathBuf> = BINARIES
        .iter()
        .filter_map(|b| {
            let dirs = std::env::split_paths(path.as_deref()?).collect::<Vec<_>>();
            dirs.into_iter().map(|d| d.join(b)).find(|p| p.is_file())
        })
        .collect();
    if let (true, Some(cache)) = (on_path.len() == BINARIES.len(), cache) {
        return link_all(&cache.join("path-assets"), &on_path);
    }
    if let Some(dir) = cache.map(|c| c.join(CACHED))
        && missing(&dir).is_empty()
    {
        return Ok(dir);
    }
    let env_note = match from_env {
        Some(dir) => format!(
            " (KUBEBUILDER_ASSETS={} lacks {})",
            dir.display(),
            missing(dir).join(", ")
        ),
        None => String::new(),
    };
    let cache_note = cache.map_or_else(
        || "the cache (no HOME)".to_owned(),
        |c| c.join(CACHED).display().to_string(),
    );
    bail!(
        "etcd, kube-apiserver and kubectl were found neither in KUBEBUILDER_ASSETS{env_note}, nor \
         all on PATH, nor in {cache_note}. Run scripts/kube-binaries.sh from a hostplane \
         checkout (it builds them from Debian's kubernetes source package into that cache, \
         about 6 minutes, and prints the directory), or set KUBEBUILDER_ASSETS to a directory \
         holding all three (e.g. from `setup-envtest use -p path`)"
    )
}

/// `$HOSTPLANE_CACHE`, else `$HOME/.cache/hostplane` (what the script uses).
fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("HOSTPLANE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/hostplane")))
}

/// A directory of symlinks in the envtest layout, since the servers are started from one
/// directory.
fn link_all(dir: &Path, binaries: &[PathBuf]) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    for (name, target) in BINARIES.iter().zip(binaries) {
        let link = dir.join(name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(target, &link)?;
    }
    Ok(dir.to_path_buf())
}

fn missing(dir: &Path) -> Vec<&'static str> {
    BINARIES
        .into_iter()
        .filter(|b| !dir.join(b).is_file())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_assets(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        for b in BINARIES {
            std::fs::write(dir.join(b), "").unwrap();
        }
    }

    #[test]
    fn env_then_path_then_cache() {
        let tmp = tempfile::tempdir().unwrap();
        let env = tmp.path().join("env");
        let bin = tmp.path().join("bin");
        let cache = tmp.path().join("cache");
        fake_assets(&env);
        fake_assets(&bin);
        fake_assets(&cache.join(CACHED));
        let path = Some(OsString::from(bin.as_os_str()));
        assert_eq!(
            find_in(Some(&env), path.clone(), Some(&cache)).unwrap(),
            env
        );
        let linked = find_in(None, path, Some(&cache)).unwrap();
        assert_eq!(linked, cache.join("path-assets"));
        assert_eq!(
            std::fs::read_link(linked.join("etcd")).unwrap(),
            bin.join("etcd")
        );
        assert_eq!(
            find_in(None, None, Some(&cache)).unwrap(),
            cache.join(CACHED)
        );
    }

    #[test]
    fn nothing_found_says_what_to_run() {
        let tmp = tempfile::tempdir().unwrap();
        let empty = tmp.path().join("empty");
        let e = find_in(Some(&empty), None, Some(tmp.path())).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("scripts/kube-binaries.sh"), "{text}");
        assert!(
            text.contains("lacks etcd, kube-apiserver, kubectl"),
            "{text}"
        );
    }
}
