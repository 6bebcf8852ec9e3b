//! The serving certificate, read from files and re-read when they change.
//!
//! Why: in a cluster the certificate and key come from a Secret mounted as files, and
//! cert-manager (or whoever rotates the Secret) replaces them while the webhook runs; the
//! kubelet swaps the mounted files atomically. The webhook must present the new certificate
//! without a restart, or the API server stops trusting it when the old one expires. The
//! files are compared on every TLS handshake (two small reads; the API server keeps its
//! connections open, so handshakes are rare); a change that does not load (a key that does
//! not match its certificate, a half-written file) keeps the previous pair and is logged.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The certificate and key files, and the pair last loaded from them.
#[derive(Debug)]
pub struct ReloadingCert {
    cert_file: PathBuf,
    key_file: PathBuf,
    provider: Arc<CryptoProvider>,
    loaded: Mutex<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    /// The file contents the key was built from, to notice a change.
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    key: Arc<CertifiedKey>,
}

impl ReloadingCert {
    /// Loads the pair once; fails (naming the file and why) when it cannot be served, so
    /// that a wrong mount stops the webhook at start rather than at the first request.
    pub fn load(
        cert_file: &Path,
        key_file: &Path,
        provider: Arc<CryptoProvider>,
    ) -> anyhow::Result<Self> {
        let (cert_pem, key_pem) = read_pair(cert_file, key_file)?;
        let key = certified_key(&cert_pem, &key_pem, &provider, cert_file, key_file)?;
        Ok(Self {
            cert_file: cert_file.to_owned(),
            key_file: key_file.to_owned(),
            provider,
            loaded: Mutex::new(Loaded {
                cert_pem,
                key_pem,
                key: Arc::new(key),
            }),
        })
    }

    /// The pair to serve: the files' current one when they changed and load, else the last.
    pub fn current(&self) -> Arc<CertifiedKey> {
        let mut loaded = self
            .loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match read_pair(&self.cert_file, &self.key_file) {
            Ok((cert_pem, key_pem)) if cert_pem != loaded.cert_pem || key_pem != loaded.key_pem => {
                match certified_key(
                    &cert_pem,
                    &key_pem,
                    &self.provider,
                    &self.cert_file,
                    &self.key_file,
                ) {
                    Ok(key) => {
                        tracing::info!(cert = %self.cert_file.display(), "serving certificate reloaded");
                        *loaded = Loaded {
                            cert_pem,
                            key_pem,
                            key: Arc::new(key),
                        };
                    }
                    // Rotation writes the two files one after the other: the next handshake
                    // sees the matching pair.
                    Err(error) => tracing::warn!(
                        error = format!("{error:#}"),
                        "the changed certificate files do not load yet; serving the previous pair"
                    ),
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(
                error = format!("{error:#}"),
                "cannot re-read the certificate files; serving the previous pair"
            ),
        }
        Arc::clone(&loaded.key)
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

fn read_pair(cert_file: &Path, key_file: &Path) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let read = |path: &Path| {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    };
    Ok((read(cert_file)?, read(key_file)?))
}

/// Parses a PEM chain and key and checks that they belong together. Errors name the file
/// and never quote its content (the key is a secret).
fn certified_key(
    cert_pem: &[u8],
    key_pem: &[u8],
    provider: &CryptoProvider,
    cert_file: &Path,
    key_file: &Path,
) -> anyhow::Result<CertifiedKey> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            anyhow::anyhow!("{}: not a PEM certificate chain: {e}", cert_file.display())
        })?;
    if chain.is_empty() {
        bail!("{}: holds no PEM certificate", cert_file.display());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
        anyhow::anyhow!(
            "{}: no PEM private key (PKCS#8, PKCS#1 or SEC1) in it: {e}",
            key_file.display()
        )
    })?;
    CertifiedKey::from_der(chain, key, provider).map_err(|e| {
        anyhow::anyhow!(
            "{} and {}: the key cannot serve this certificate: {e}",
            key_file.display(),
            cert_file.display()
        )
    })
}
