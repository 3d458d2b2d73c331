//! Raw-socket tests of the connection loop: keep-alive, pipelining, split and unread
//! bodies, the peer address, and graceful shutdown with idle and busy connections.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::routing::{get, post};
use bytes::Bytes;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{exchange, serve_http1};

fn test_router() -> Router {
    Router::new()
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route("/echo", post(|body: String| async move { body }))
        .route(
            "/unread",
            post(|| async { (StatusCode::UNAUTHORIZED, "not read") }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "done"
            }),
        )
}

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    served: JoinHandle<()>,
}

async fn start() -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(serve_http1(listener, test_router(), async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop: Some(stop),
        served,
    }
}

impl Running {
    /// Signals shutdown and waits (bounded) for `serve_http1` to return.
    async fn shut_down(mut self) -> Result<(), tokio::time::error::Elapsed> {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(5), &mut self.served)
            .await
            .map(|joined| joined.unwrap())
    }
}

/// A client connection reading responses one by one (bytes past one kept for the next).
struct Client {
    stream: TcpStream,
    buffered: Vec<u8>,
}

#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Self {
        Self {
            stream: TcpStream::connect(addr).await.unwrap(),
            buffered: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    async fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 4096];
        let read = tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut chunk))
            .await
            .expect("no answer within 5 s");
        // A reset after the server closed (bytes sent to a closed socket) is a close too.
        let n = match read {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => 0,
            other => other.unwrap(),
        };
        self.buffered.extend_from_slice(&chunk[..n]);
        n
    }

    async fn answer(&mut self) -> Answer {
        let head_end = loop {
            if let Some(i) = self.buffered.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            assert!(self.fill().await > 0, "connection closed before an answer");
        };
        let head = String::from_utf8(self.buffered[..head_end].to_vec()).unwrap();
        let status = head[9..12].parse().unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().unwrap())
            })
            .expect("a content-length");
        while self.buffered.len() < head_end + length {
            assert!(self.fill().await > 0, "connection closed inside a body");
        }
        let body = String::from_utf8(self.buffered[head_end..head_end + length].to_vec()).unwrap();
        self.buffered.drain(..head_end + length);
        Answer { status, head, body }
    }

    /// True when the server closed the connection (EOF) within 5 s.
    async fn closed_by_server(&mut self) -> bool {
        self.fill().await == 0
    }
}

fn get_request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n").into_bytes()
}

fn post_request(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn one_connection_serves_many_requests_and_stays_open() {
    let server = start().await;
    let mut c = Client::connect(server.addr).await;
    for i in 0..5 {
        let body = format!("hello {i}");
        c.send(&post_request("/echo", &body)).await;
        let a = c.answer().await;
        assert_eq!((a.status, a.body.as_str()), (200, body.as_str()));
        assert!(
            !a.head.to_ascii_lowercase().contains("connection: close"),
            "{}",
            a.head
        );
    }
    server.shut_down().await.unwrap();
}

#[tokio::test]
async fn handlers_see_the_peer_address() {
    let server = start().await;
    let mut c = Client::connect(server.addr).await;
    let local = c.stream.local_addr().unwrap();
    for _ in 0..2 {
        c.send(&get_request("/peer")).await;
        assert_eq!(c.answer().await.body, local.to_string());
    }
    server.shut_down().await.unwrap();
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let server = start().await;
    let mut c = Client::connect(server.addr).await;
    let mut burst = post_request("/echo", "first");
    burst.extend(get_request("/peer"));
    burst.extend(post_request("/echo", "third"));
    c.send(&burst).await;
    assert_eq!(c.answer().await.body, "first");
    assert_eq!(c.answer().await.status, 200);
    assert_eq!(c.answer().await.body, "third");
    server.shut_down().await.unwrap();
}

#[tokio::test]
async fn a_request_split_across_writes_is_read_whole() {
    let server = start().await;
    let mut c = Client::connect(server.addr).await;
    // A first exchange, so the connection is parked when the split one arrives.
    c.send(&get_request("/peer")).await;
    c.answer().await;
    let request = post_request("/echo", "split body");
    for part in [&request[..10], &request[10..40], &request[40..]] {
        c.send(part).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let a = c.answer().await;
    assert_eq!((a.status, a.body.as_str()), (200, "split body"));
    server.shut_down().await.unwrap();
}

#[tokio::test]
async fn an_unread_body_is_never_taken_for_a_request() {
    let server = start().await;
    let mut c = Client::connect(server.addr).await;
    // The body looks like a request; the handler answers without reading it and only
    // half of it has arrived. hyper closes rather than guess where the body ends.
    let request = post_request("/unread", "GET /peer HTTP/1.1\r\nhost: x\r\n\r\n");
    let (head, rest) = request.split_at(request.len() - 20);
    c.send(head).await;
    let a = c.answer().await;
    assert_eq!((a.status, a.body.as_str()), (401, "not read"));
    let _ = c.stream.write_all(rest).await;
    assert!(c.closed_by_server().await, "{:?}", c.buffered);
    assert!(c.buffered.is_empty(), "answered a body as a request");
    server.shut_down().await.unwrap();
}

#[tokio::test]
async fn shutdown_closes_idle_connections_at_once() {
    let server = start().await;
    let mut served = Client::connect(server.addr).await;
    served.send(&get_request("/peer")).await;
    served.answer().await;
    let mut silent = Client::connect(server.addr).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    server
        .shut_down()
        .await
        .expect("idle connections held up shutdown");
    assert!(served.closed_by_server().await);
    assert!(silent.closed_by_server().await);
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish() {
    let server = start().await;
    let mut c = Client::connect(server.addr).await;
    c.send(&get_request("/slow")).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stopping = tokio::spawn(server.shut_down());
    let a = c.answer().await;
    assert_eq!((a.status, a.body.as_str()), (200, "done"));
    assert!(c.closed_by_server().await);
    stopping.await.unwrap().expect("shutdown did not finish");
}

/// A connected pair: (the client's end, the server's end, the client's address).
async fn socket_pair() -> (Client, TcpStream, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = Client::connect(listener.local_addr().unwrap()).await;
    let (server, peer) = listener.accept().await.unwrap();
    (client, server, peer)
}

#[tokio::test]
async fn an_answered_exchange_hands_the_socket_back_with_what_was_read_past_it() {
    let (mut c, server, peer) = socket_pair().await;
    let (_stop_tx, mut stop) = tokio::sync::watch::channel(false);
    let next = &get_request("/peer")[..12];
    let mut bytes = post_request("/echo", "one");
    bytes.extend_from_slice(next);
    // Both already in the socket: hyper's first read takes the request and the
    // start of the next one.
    c.send(&bytes).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (server, unread) = exchange(server, Bytes::new(), peer, &test_router(), &mut stop)
        .await
        .expect("the connection was not handed back");
    assert_eq!(c.answer().await.body, "one");
    assert_eq!(&unread[..], next);
    // The carried-over bytes and the rest make the next exchange's request.
    c.send(&get_request("/peer")[12..]).await;
    let (_, unread) = exchange(server, unread, peer, &test_router(), &mut stop)
        .await
        .expect("the second exchange did not hand the socket back");
    assert_eq!(
        c.answer().await.body,
        c.stream.local_addr().unwrap().to_string()
    );
    assert!(unread.is_empty());
}

#[tokio::test]
async fn a_parked_connection_the_client_closed_is_not_parked_again() {
    let (mut c, server, peer) = socket_pair().await;
    let (_stop_tx, mut stop) = tokio::sync::watch::channel(false);
    c.send(&get_request("/peer")).await;
    let (server, unread) = exchange(server, Bytes::new(), peer, &test_router(), &mut stop)
        .await
        .expect("not handed back");
    assert_eq!(c.answer().await.status, 200);
    drop(c);
    let handed_back = exchange(server, unread, peer, &test_router(), &mut stop).await;
    assert!(handed_back.is_none(), "a closed connection was parked");
}
