//! A CA and a serving certificate for 127.0.0.1, made with the `openssl` CLI.
//!
//! Why the CLI rather than a crate (rcgen): the local API server these tests need already
//! requires it (`hostplane::testbed` makes the service-account key with it), so it adds no
//! prerequisite, and no certificate-generation crates are compiled for tests alone.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A certificate authority: its certificate (PEM, the `caBundle`) and key.
pub struct Ca {
    pub cert: PathBuf,
    key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl (the local API server needs it too)");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `openssl req` with a new ECDSA P-256 key (PKCS#8) into `key`: a signing request in
/// `out`, or with `-x509` among `extra` a self-signed certificate.
fn new_key(dir: &Path, key: &str, out: &str, subject: &str, extra: &[&str]) {
    let mut args = vec![
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        key,
        "-out",
        out,
        "-subj",
        subject,
    ];
    args.extend_from_slice(extra);
    openssl(dir, &args);
}

/// A CA named `name`, valid for two days, in `dir`.
pub fn ca(dir: &Path, name: &str) -> Ca {
    let (cert, key) = (format!("{name}-ca.crt"), format!("{name}-ca.key"));
    let subject = format!("/CN={name} CA");
    new_key(dir, &key, &cert, &subject, &["-x509", "-days", "2"]);
    Ca {
        cert: dir.join(cert),
        key: dir.join(key),
    }
}

/// A serving certificate for IP 127.0.0.1 signed by `ca`, written to `cert` and `key`
/// (PKCS#8), as cert-manager writes `tls.crt` and `tls.key`.
pub fn serving(ca: &Ca, cert: &Path, key: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    new_key(d, "tls.key", "tls.csr", "/CN=127.0.0.1", &[]);
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "tls.csr",
            "-CA",
            ca.cert.to_str().unwrap(),
            "-CAkey",
            ca.key.to_str().unwrap(),
            "-CAcreateserial",
            "-CAserial",
            "ca.srl",
            "-out",
            "tls.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    // Written whole and renamed, as the kubelet swaps a mounted Secret's files.
    for (from, to) in [("tls.key", key), ("tls.crt", cert)] {
        let staged = to.with_extension("new");
        std::fs::copy(d.join(from), &staged).unwrap();
        std::fs::rename(&staged, to).unwrap();
    }
}
