//! A TCP proxy between a client and a server that a test can cut: every connection at once,
//! all new ones (the network is down), or moved to another backend.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug)]
pub struct Proxy {
    pub addr: SocketAddr,
    backend: Arc<Mutex<SocketAddr>>,
    /// Bumped to cut all current connections.
    cut: watch::Sender<u64>,
    down: Arc<Mutex<bool>>,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `backend`.
    pub async fn start(backend: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let addr = listener.local_addr().expect("a bound address");
        let backend = Arc::new(Mutex::new(backend));
        let (cut, _) = watch::channel(0u64);
        let down = Arc::new(Mutex::new(false));
        let (b, c, d) = (backend.clone(), cut.clone(), down.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if *d.lock().unwrap_or_else(|e| e.into_inner()) {
                    drop(inbound);
                    continue;
                }
                let target = *b.lock().unwrap_or_else(|e| e.into_inner());
                let mut cut_rx = c.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Proxy {
            addr,
            backend,
            cut,
            down,
        }
    }

    /// Cuts every connection open now.
    pub fn cut_all(&self) {
        self.cut.send_modify(|n| *n += 1);
    }

    /// Down: every connection is cut and new ones are refused; up again: they pass.
    pub fn set_down(&self, down: bool) {
        *self.down.lock().unwrap_or_else(|e| e.into_inner()) = down;
        if down {
            self.cut_all();
        }
    }

    /// Forwards to `backend` from now on (cutting what went to the old one).
    pub fn switch_backend(&self, backend: SocketAddr) {
        *self.backend.lock().unwrap_or_else(|e| e.into_inner()) = backend;
        self.cut_all();
    }
}
