//! A TCP proxy between the controllers and the API server, so that the soak can cut every
//! connection the controllers hold — their watches above all — at a moment of its choosing,
//! as a load balancer restart or a network blip does. TLS passes through untouched (the API
//! server's certificate names 127.0.0.1, whatever the port).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

pub struct Proxy {
    pub address: SocketAddr,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl Proxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let held = Arc::clone(&connections);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                let mut held = held.lock().expect("proxy lock");
                held.retain(|t| !t.is_finished());
                held.push(task.abort_handle());
            }
        })
        .abort_handle();
        Ok(Proxy {
            address,
            connections,
            accept,
        })
    }

    /// Cuts every open connection (both ends see a reset or EOF); new ones are accepted as
    /// before. Answers how many were cut.
    pub fn cut(&self) -> usize {
        let mut held = self.connections.lock().expect("proxy lock");
        let open = held.iter().filter(|t| !t.is_finished()).count();
        for task in held.drain(..) {
            task.abort();
        }
        open
    }

    /// A copy of `kubeconfig` whose server is this proxy instead of `server` (its URL).
    pub fn kubeconfig(&self, kubeconfig: &str, server: &str) -> String {
        kubeconfig.replace(server, &format!("https://{}", self.address))
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
