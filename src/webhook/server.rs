//! The webhook's HTTPS server: `POST /validate` for the API server, `/healthz` and `/readyz`
//! for the kubelet, on one TLS port whose certificate follows its files ([`super::certs`]).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kube::api::ListParams;
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview};
use kube::{Api, Client};

use super::certs::ReloadingCert;
use super::listener::{self, TlsListener};
use super::review::{self, Verdict};
use crate::api::HostingService;

/// How long listing a namespace's services may take: well inside the registration's
/// `timeoutSeconds` (10), so that the API server gets an answer rather than a timeout.
const LIST_TIMEOUT: Duration = Duration::from_secs(5);

/// An AdmissionReview carries the object and the old object, each up to etcd's 1.5 MiB.
const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// A bound, not yet serving, webhook server.
pub struct Server {
    listener: TlsListener,
    client: Client,
}

impl Server {
    /// Loads the certificate pair (failing when it cannot be served) and binds `address`.
    /// Must be called inside a Tokio runtime.
    pub async fn bind(
        address: SocketAddr,
        cert_file: &Path,
        key_file: &Path,
        client: Client,
    ) -> anyhow::Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs = ReloadingCert::load(cert_file, key_file, Arc::clone(&provider))?;
        let acceptor = listener::acceptor(Arc::new(certs), provider)?;
        let tcp = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {address}: {e}"))?;
        Ok(Self {
            listener: TlsListener::new(tcp, acceptor)?,
            client,
        })
    }

    /// The bound address (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        axum::serve::Listener::local_addr(&self.listener).expect("a bound listener has an address")
    }

    /// Serves until `stop` resolves; requests in flight finish first.
    pub async fn run(self, stop: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        tracing::info!(address = %self.local_addr(), "serving /validate, /healthz, /readyz over TLS");
        axum::serve(self.listener, routes(self.client))
            .with_graceful_shutdown(stop)
            .await?;
        Ok(())
    }
}

fn routes(client: Client) -> Router {
    Router::new()
        .route("/validate", post(validate))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(client)
}

async fn validate(State(client): State<Client>, body: Bytes) -> Response {
    let review: AdmissionReview<DynamicObject> = match serde_json::from_slice(&body) {
        Ok(review) => review,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("not an AdmissionReview: {e}"),
            )
                .into_response();
        }
    };
    let request: AdmissionRequest<DynamicObject> = match review.try_into() {
        Ok(request) => request,
        Err(e) => return axum::Json(AdmissionResponse::invalid(e).into_review()).into_response(),
    };
    let response = match review::review(&request) {
        Verdict::Answer(response) => response,
        Verdict::GuardTariff(edit) => match services(&client, &edit.namespace).await {
            Ok(services) => edit.decide(&services),
            Err(error) => edit.unchecked(&error),
        },
    };
    // Names only: the answer's message is for the client that sent the object.
    tracing::info!(
        operation = ?request.operation,
        kind = %request.kind.kind,
        namespace = request.namespace.as_deref().unwrap_or_default(),
        name = %request.name,
        allowed = response.allowed,
        warnings = response.warnings.as_ref().map_or(0, Vec::len),
        "admission review"
    );
    axum::Json(response.into_review()).into_response()
}

/// Every HostingService of `namespace`.
async fn services(client: &Client, namespace: &str) -> Result<Vec<HostingService>, String> {
    let api: Api<HostingService> = Api::namespaced(client.clone(), namespace);
    match tokio::time::timeout(LIST_TIMEOUT, api.list(&ListParams::default())).await {
        Ok(Ok(list)) => Ok(list.items),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {}s", LIST_TIMEOUT.as_secs())),
    }
}
