//! The HTTP client shared by all panel clients: timeouts and TLS settings in one place.
//!
//! Why rustls with the `ring` provider installed here: kube in this crate already uses rustls
//! with ring, and a process should carry one crypto provider, not two. Self-signed panel
//! certificates are the norm (reference §1.1); the module's TLS settings decide between a CA
//! bundle and no verification, never a silent default.

use std::time::Duration;

use super::error::PanelError;

/// Transport settings of one processing module.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Whole-request timeout (the official modules use 60 s; panels answer in well under 10).
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Skip certificate verification (a panel with a self-signed certificate and no CA given).
    pub accept_invalid_certs: bool,
    /// PEM certificates to trust in addition to the system roots.
    pub ca_pem: Option<Vec<u8>>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            accept_invalid_certs: false,
            ca_pem: None,
        }
    }
}

/// Installs rustls' `ring` provider as the process default, unless one is installed already.
/// Any `reqwest::Client` built afterwards (also outside this module) can do TLS.
pub fn install_crypto_provider() {
    // Fails only when a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Builds the reqwest client for one module.
pub fn http_client(options: &HttpOptions) -> Result<reqwest::Client, PanelError> {
    install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.connect_timeout)
        .tls_danger_accept_invalid_certs(options.accept_invalid_certs)
        .user_agent(concat!("hostplane/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = &options.ca_pem {
        for cert in
            reqwest::Certificate::from_pem_bundle(pem).map_err(|e| PanelError::Protocol {
                message: format!("the CA bundle is not valid PEM: {e}"),
            })?
        {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| PanelError::Protocol {
        message: format!("cannot build the HTTP client: {e}"),
    })
}
