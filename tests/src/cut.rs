//! A TCP relay a test can cut: what a service sees when PostgreSQL or Redis restarts or the
//! network between them fails (open connections dropped, new ones refused), then comes back on the
//! same address.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A relay from a local port to `target`.
pub struct TcpCut {
    /// The address clients connect to.
    pub addr: SocketAddr,
    target: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl TcpCut {
    /// Relays a fresh local port to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let addr = listener.local_addr().expect("relay addr");
        let cut = Self {
            addr,
            target,
            tasks: Arc::default(),
        };
        cut.serve(listener);
        cut
    }

    fn serve(&self, listener: TcpListener) {
        let target = self.target;
        let tasks = self.tasks.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let relay = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().expect("relay tasks").push(relay);
            }
        });
        self.tasks.lock().expect("relay tasks").push(acceptor);
    }

    /// Drops every open connection and stops listening: new connections are refused.
    pub fn cut(&self) {
        for t in self.tasks.lock().expect("relay tasks").drain(..) {
            t.abort();
        }
    }

    /// Listens again on the same address.
    pub async fn restore(&self) {
        // The aborted acceptor releases the port asynchronously: retry briefly.
        for _ in 0..100 {
            if let Ok(listener) = TcpListener::bind(self.addr).await {
                self.serve(listener);
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("relay port {} not free again", self.addr);
    }
}

impl Drop for TcpCut {
    fn drop(&mut self) {
        self.cut();
    }
}
