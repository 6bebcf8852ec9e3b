//! The HTTP client shared by all panel clients: timeouts, TLS, redirects and answer sizes in
//! one place.
//!
//! Why no redirects: every panel request carries credentials (mgr `authinfo` or a session in
//! the form body, the VMmanager 6 token in a header). A redirect that is followed re-sends the
//! request to wherever the `Location` points, possibly another host or plain HTTP; reqwest
//! drops only some headers on the way and never the body. So a 3xx is an error that names the
//! target (without credentials or query) and the operator fixes the module's URL.
//!
//! Why a size limit: a misconfigured URL (a file server, a proxy's error stream) can answer
//! with an endless body; buffering it would take the whole controller down with it.
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
    /// Whole-request timeout of a read (a list, a view, a login).
    pub timeout: Duration,
    /// Whole-request timeout of a call that changes something; `None` = `timeout`. The
    /// official modules wait 60 s and an ispmanager create taking 40 s is normal (reference
    /// §11), so a module gives a mutation longer than a read before its answer counts as lost
    /// (`spec.timeouts`, 60 s by default there). Applied per request.
    pub mutation_timeout: Option<Duration>,
    pub connect_timeout: Duration,
    /// Skip certificate verification (a panel with a self-signed certificate and no CA given).
    pub accept_invalid_certs: bool,
    /// PEM certificates to trust in addition to the system roots.
    pub ca_pem: Option<Vec<u8>>,
    /// The largest answer body read; a longer one is an error naming this limit. The biggest
    /// real answers (a `user` or `soft` list of thousands of rows) are a few MiB.
    pub max_body_bytes: usize,
}

/// The default [`HttpOptions::max_body_bytes`]: 16 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            mutation_timeout: None,
            connect_timeout: Duration::from_secs(10),
            accept_invalid_certs: false,
            ca_pem: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
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
        .redirect(reqwest::redirect::Policy::none())
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

/// Reads an answer body, at most `limit` bytes: a `Content-Length` above it is refused before
/// reading, a body that grows past it is abandoned (the connection is dropped). Also refuses
/// redirects (see the module documentation).
pub async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<(reqwest::StatusCode, Vec<u8>), PanelError> {
    let status = response.status();
    if status.is_redirection() {
        return Err(redirect_error(&response));
    }
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| PanelError::from_reqwest(&e))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

fn too_large(limit: usize) -> PanelError {
    PanelError::Protocol {
        message: format!(
            "the panel's answer is larger than the limit of {} ({limit} bytes); the module's URL may point at something that is not the panel",
            human_size(limit)
        ),
    }
}

fn human_size(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// A 3xx answer as an error: where it pointed (scheme, host, port and path only: a `Location`
/// may carry user info, a session or a key in its query), and what to do about it.
fn redirect_error(response: &reqwest::Response) -> PanelError {
    let target = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| response.url().join(l).ok())
        .map(|mut url| {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        });
    let status = response.status().as_u16();
    PanelError::Protocol {
        message: match target {
            Some(url) => format!(
                "the panel answered HTTP {status}, a redirect to {url}; requests with credentials do not follow redirects: set the processing module's URL to the panel's real address"
            ),
            None => format!(
                "the panel answered HTTP {status}, a redirect without a usable Location; requests with credentials do not follow redirects"
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_named_in_units() {
        assert_eq!(human_size(DEFAULT_MAX_BODY_BYTES), "16 MiB");
        assert_eq!(human_size(64 * 1024), "64 KiB");
        assert_eq!(human_size(1000), "1000 bytes");
    }
}
