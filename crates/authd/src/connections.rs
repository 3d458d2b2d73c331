//! Serving HTTP/1.1 connections so that an idle keep-alive connection holds no HTTP
//! buffers: between requests a connection waits on socket readiness alone, and
//! hyper's per-connection state (its read and write buffers, ~16 KiB) exists only
//! while a request is read and answered. Ten thousand idle clients then cost little
//! more than their sockets.
//!
//! A connection is handed back from hyper ("parked") only after an exchange that
//! left it clean: the request body read to its end and the response body finished,
//! so no byte of one request can be taken for the next. Bytes of a next request that
//! hyper had already read are carried over into the next exchange.

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use bytes::{Buf as _, Bytes, BytesMut};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower_service::Service as _;

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting,
/// closes idle connections, lets in-flight exchanges finish and returns when every
/// connection is gone. Handlers see the peer as `ConnectInfo<SocketAddr>`.
pub(crate) async fn serve_http1(
    mut listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        // axum's accept: connection errors skipped, others logged and retried.
        let accepted = tokio::select! {
            accepted = axum::serve::Listener::accept(&mut listener) => accepted,
            () = &mut shutdown => break,
        };
        let (stream, remote) = accepted;
        // Responses are written whole; waiting to coalesce them only adds latency.
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(
            stream,
            remote,
            router.clone(),
            stop_rx.clone(),
        ));
    }
    drop(listener);
    stop_tx.send_replace(true);
    drop(stop_rx);
    stop_tx.closed().await;
}

/// One connection: parked on readiness, then one exchange at a time through hyper.
async fn serve_connection(
    mut stream: TcpStream,
    remote: SocketAddr,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    let mut unread = Bytes::new();
    loop {
        if unread.is_empty() {
            tokio::select! {
                ready = stream.readable() => if ready.is_err() { return },
                _ = stop.wait_for(|stopping| *stopping) => return,
            }
        }
        // Boxed: the parked task stays small, hyper's state lives only while it runs.
        match Box::pin(exchange(stream, unread, remote, &router, &mut stop)).await {
            Some((s, rest)) => (stream, unread) = (s, rest),
            None => return,
        }
    }
}

/// Runs hyper on the connection until an exchange has left it clean, then hands the
/// socket back with any bytes read past that exchange; `None` when the connection
/// ended (peer closed, error, or shutdown).
async fn exchange(
    stream: TcpStream,
    unread: Bytes,
    remote: SocketAddr,
    router: &Router,
    stop: &mut watch::Receiver<bool>,
) -> Option<(TcpStream, Bytes)> {
    let progress = Arc::new(Progress::default());
    let service = ExchangeService {
        router: router.clone(),
        remote,
        progress: progress.clone(),
    };
    let io = TokioIo::new(Rewind {
        prefix: unread,
        stream,
    });
    let mut conn = http1::Builder::new().serve_connection(io, service);
    let mut stopped = pin!(stop.wait_for(|stopping| *stopping));
    let (mut stopping, mut parking) = (false, false);
    let served = poll_fn(|cx| {
        loop {
            if !stopping && !parking && stopped.as_mut().poll(cx).is_ready() {
                stopping = true;
                Pin::new(&mut conn).graceful_shutdown();
            }
            match conn.poll_without_shutdown(cx) {
                Poll::Pending if !stopping && !parking && progress.is_clean() => {
                    // Idle between requests: hyper closes its side and returns the socket.
                    parking = true;
                    Pin::new(&mut conn).graceful_shutdown();
                }
                other => return other,
            }
        }
    })
    .await;
    if let Err(e) = served {
        tracing::debug!(error = %e, "connection ended with an error");
        return None;
    }
    if !parking {
        return None;
    }
    let parts = conn.into_parts();
    let Rewind { prefix, stream } = parts.io.into_inner();
    // Copied out (or dropped when empty): even an empty slice of hyper's read buffer
    // would keep its whole allocation alive while the connection is parked.
    let unread = match (parts.read_buf.is_empty(), prefix.is_empty()) {
        (true, true) => Bytes::new(),
        _ => {
            let mut both = BytesMut::with_capacity(parts.read_buf.len() + prefix.len());
            both.extend_from_slice(&parts.read_buf);
            both.extend_from_slice(&prefix);
            both.freeze()
        }
    };
    Some((stream, unread))
}

/// Where the connection's latest exchange stands.
#[derive(Debug, Default)]
struct Progress(AtomicU8);

const BEGUN: u8 = 1;
const REQUEST_READ: u8 = 2;
const ANSWERED: u8 = 4;

impl Progress {
    fn begin(&self, request_body_empty: bool) {
        let read = if request_body_empty { REQUEST_READ } else { 0 };
        self.0.store(BEGUN | read, Ordering::Release);
    }
    fn mark(&self, bit: u8) {
        self.0.fetch_or(bit, Ordering::AcqRel);
    }
    /// An exchange began, its request body was read to the end, its response finished.
    fn is_clean(&self) -> bool {
        self.0.load(Ordering::Acquire) == BEGUN | REQUEST_READ | ANSWERED
    }
}

/// The router behind one exchange, with the peer address and progress tracking.
#[derive(Debug)]
struct ExchangeService {
    router: Router,
    remote: SocketAddr,
    progress: Arc<Progress>,
}

type ExchangeFuture = Pin<
    Box<dyn Future<Output = Result<Response<TrackedBody<axum::body::Body>>, Infallible>> + Send>,
>;

impl hyper::service::Service<Request<Incoming>> for ExchangeService {
    type Response = Response<TrackedBody<axum::body::Body>>;
    type Error = Infallible;
    type Future = ExchangeFuture;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.progress.begin(request.body().is_end_stream());
        let mut request = request.map(|body| TrackedBody {
            inner: body,
            progress: self.progress.clone(),
            on_end: REQUEST_READ,
        });
        request.extensions_mut().insert(ConnectInfo(self.remote));
        let mut router = self.router.clone();
        let progress = self.progress.clone();
        Box::pin(async move {
            let response = router.call(request).await?;
            Ok(response.map(|body| TrackedBody {
                inner: body,
                progress,
                on_end: ANSWERED,
            }))
        })
    }
}

/// A body that marks `on_end` when it has yielded its last frame (a response body
/// also when hyper drops it, which it does once the body is written or abandoned).
struct TrackedBody<B> {
    inner: B,
    progress: Arc<Progress>,
    on_end: u8,
}

impl<B> Drop for TrackedBody<B> {
    fn drop(&mut self) {
        if self.on_end == ANSWERED {
            self.progress.mark(ANSWERED);
        }
    }
}

impl<B: HttpBody + Unpin> HttpBody for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.progress.mark(self.on_end);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The socket, with bytes already read from it served first.
struct Rewind {
    prefix: Bytes,
    stream: TcpStream,
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.prefix.is_empty() {
            return Pin::new(&mut self.stream).poll_read(cx, buf);
        }
        let n = self.prefix.len().min(buf.remaining());
        buf.put_slice(&self.prefix[..n]);
        self.prefix.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[path = "connections_tests.rs"]
mod tests;
