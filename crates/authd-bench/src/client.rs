//! A minimal HTTP/1.1 keep-alive client (so the driver's own cost stays small and
//! visible) and the closed loop that runs N of them against one address.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// One keep-alive connection.
pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// A response: status and body.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &[u8]) -> usize {
    let head = String::from_utf8_lossy(head);
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

impl Conn {
    pub(crate) async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Sends one request (complete bytes) and reads the whole response.
    pub(crate) async fn send(&mut self, request: &[u8]) -> anyhow::Result<Response> {
        self.stream.write_all(request).await?;
        self.buf.clear();
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("connection closed mid-response");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = &self.buf[..head_end];
        let status = std::str::from_utf8(head.get(9..12).unwrap_or_default())
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let want = head_end + content_length(head);
        while self.buf.len() < want {
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("connection closed mid-body");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Ok(Response {
            status,
            body: self.buf[head_end..want].to_vec(),
        })
    }
}

/// A GET request.
pub(crate) fn get(path: &str, bearer: Option<&str>) -> Vec<u8> {
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    format!("GET {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: authd-bench\r\n{auth}\r\n")
        .into_bytes()
}

/// A POST request with a JSON body.
pub(crate) fn post_json(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: authd-bench\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The value of a string field in a flat JSON object.
pub(crate) fn json_field(body: &[u8], field: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get(field)?.as_str().map(str::to_owned)
}

/// What one measured window gave.
#[derive(Debug, Clone, Default)]
pub(crate) struct Window {
    pub(crate) requests: u64,
    pub(crate) non_2xx: u64,
    pub(crate) errors: u64,
    pub(crate) seconds: f64,
    /// Latencies in microseconds, sorted.
    pub(crate) latencies: Vec<u32>,
    pub(crate) driver_cpu: f64,
    pub(crate) server_cpu: Option<f64>,
}

impl Window {
    /// Successful (2xx) answers per second: what every ratio compares, so that fast
    /// refusals (a shed login's 503, say) never count as throughput.
    pub(crate) fn per_second(&self) -> f64 {
        self.ok() as f64 / self.seconds.max(1e-9)
    }

    fn ok(&self) -> u64 {
        self.requests - self.non_2xx - self.errors
    }

    /// Server CPU per successful answer, microseconds (steadier than the rate when
    /// other processes share the cores).
    pub(crate) fn server_cpu_us(&self) -> Option<f64> {
        let cpu = self.server_cpu?;
        Some(cpu / 100.0 * self.seconds * 1e6 / self.ok().max(1) as f64)
    }

    fn quantile(&self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        f64::from(self.latencies[i]) / 1000.0
    }

    /// One line: req/s, p50/p99/max in ms, non-2xx, CPU.
    pub(crate) fn line(&self) -> String {
        let cpu = match (self.server_cpu, self.server_cpu_us()) {
            (Some(s), Some(us)) => format!(
                "server {s:.0}% ({us:.1} us/req) driver {:.0}%",
                self.driver_cpu
            ),
            _ => format!("driver {:.0}%", self.driver_cpu),
        };
        format!(
            "{:>9.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  non-2xx {}  errors {}  cpu {cpu}",
            self.per_second(),
            self.quantile(0.5),
            self.quantile(0.99),
            self.latencies
                .last()
                .map_or(0.0, |m| f64::from(*m) / 1000.0),
            self.non_2xx,
            self.errors,
        )
    }
}

/// The timing of one window: warm up until `measure_from`, count until `until`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Phase {
    pub(crate) measure_from: Instant,
    pub(crate) until: Instant,
}

impl Phase {
    pub(crate) fn new(warmup: Duration, window: Duration) -> Self {
        let measure_from = Instant::now() + warmup;
        Self {
            measure_from,
            until: measure_from + window,
        }
    }
}

/// Per-client tallies, merged into a [`Window`].
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) requests: u64,
    pub(crate) non_2xx: u64,
    pub(crate) errors: u64,
    pub(crate) latencies: Vec<u32>,
}

impl Tally {
    /// Records an operation that started at `start` and ended now, if it ended in the
    /// measured part of `phase` (completions in the window: an operation longer than
    /// the window, a login under load say, still counts once).
    pub(crate) fn record(&mut self, phase: &Phase, start: Instant, ok: Option<bool>) {
        let end = Instant::now();
        if end < phase.measure_from || end > phase.until {
            return;
        }
        self.requests += 1;
        match ok {
            Some(true) => {}
            Some(false) => self.non_2xx += 1,
            None => self.errors += 1,
        }
        self.latencies
            .push(end.duration_since(start).as_micros().min(u32::MAX as u128) as u32);
    }
}

/// Runs `clients` closed-loop workers produced by `worker(i, phase)` through one
/// phase, measuring CPU of the driver and of `server` over the measured part.
pub(crate) async fn run_window<F, Fut>(
    clients: usize,
    warmup: Duration,
    window: Duration,
    server: Option<u32>,
    worker: F,
) -> Window
where
    F: Fn(usize, Phase) -> Fut,
    Fut: std::future::Future<Output = Tally> + Send + 'static,
{
    let phase = Phase::new(warmup, window);
    let tasks: Vec<_> = (0..clients)
        .map(|i| tokio::spawn(worker(i, phase)))
        .collect();
    tokio::time::sleep_until(phase.measure_from.into()).await;
    let cpu = crate::procfs::CpuWindow::start(server);
    tokio::time::sleep_until(phase.until.into()).await;
    let (driver_cpu, server_cpu) = cpu.finish();
    let mut out = Window {
        seconds: window.as_secs_f64(),
        driver_cpu,
        server_cpu,
        ..Window::default()
    };
    for t in tasks {
        if let Ok(t) = t.await {
            out.requests += t.requests;
            out.non_2xx += t.non_2xx;
            out.errors += t.errors;
            out.latencies.extend(t.latencies);
        }
    }
    out.latencies.sort_unstable();
    out
}

/// Builds a worker's next request from the previous response (`None`: send the same).
pub(crate) type NextRequest = Arc<dyn Fn(&Response) -> Option<Vec<u8>> + Send + Sync>;

/// A closed-loop HTTP worker: `next` builds each request from the previous response.
pub(crate) async fn http_worker(
    addr: SocketAddr,
    phase: Phase,
    first: Vec<u8>,
    next: NextRequest,
) -> Tally {
    let mut tally = Tally::default();
    let Ok(mut conn) = Conn::connect(addr).await else {
        tally.errors += 1;
        return tally;
    };
    let mut request = first;
    while Instant::now() < phase.until {
        let start = Instant::now();
        match conn.send(&request).await {
            Ok(resp) => {
                let ok = (200..300).contains(&resp.status);
                tally.record(&phase, start, Some(ok));
                if let Some(n) = next(&resp) {
                    request = n;
                }
            }
            Err(_) => {
                tally.record(&phase, start, None);
                match Conn::connect(addr).await {
                    Ok(c) => conn = c,
                    Err(_) => break,
                }
            }
        }
    }
    tally
}
