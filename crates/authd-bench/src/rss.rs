//! authd's resident memory at idle and with many keep-alive connections open at once.

use std::net::SocketAddr;
use std::time::Duration;

use crate::client::{Conn, get};
use crate::procfs::{Memory, memory};

/// What the connection storm gave.
pub(crate) struct Storm {
    pub(crate) opened: usize,
    pub(crate) answered: usize,
    pub(crate) with_all_open: Memory,
}

/// Opens `n` connections at once, sends one keep-alive `GET /healthz` on each, and
/// reads the server's memory while all of them are still open.
pub(crate) async fn storm(addr: SocketAddr, pid: u32, n: usize) -> Storm {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n + 1));
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let request = get("/healthz", None);
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let barrier = barrier.clone();
        let release = release.clone();
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let attempt = async {
                let mut conn = Conn::connect(addr).await.ok()?;
                let r = conn.send(&request).await.ok()?;
                Some((conn, r.status == 200))
            };
            let held = tokio::time::timeout(Duration::from_secs(30), attempt)
                .await
                .ok()
                .flatten();
            let notified = release.notified();
            barrier.wait().await;
            notified.await;
            held.map(|(_, ok)| ok)
        }));
    }
    barrier.wait().await;
    // Every task has its answer (or gave up) and still holds its connection.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let with_all_open = memory(pid);
    release.notify_waiters();
    let mut opened = 0;
    let mut answered = 0;
    for t in tasks {
        if let Ok(Some(ok)) = t.await {
            opened += 1;
            answered += usize::from(ok);
        }
    }
    Storm {
        opened,
        answered,
        with_all_open,
    }
}
