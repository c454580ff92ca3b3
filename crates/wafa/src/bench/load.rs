//! Ingestion benchmarks: open-loop load against a real server, and a kill -9 crash test.
//!
//! The load generator is deliberately tiny (HTTP/1.1 over keep-alive TCP connections, no
//! client library) so that it costs little CPU next to the server on a 2-core machine.
//! Latency is measured from each request's *scheduled* send time, so a stalled server is
//! not hidden by a generator that waits for it (coordinated omission).

use crate::error::AppError;
use base64::Engine;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub async fn open(addr: &str) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    /// POST and return the status code.
    pub async fn post(
        &mut self,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> std::io::Result<u16> {
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        self.stream.write_all(req.as_bytes()).await?;
        self.stream.write_all(body).await?;
        self.buf.clear();
        let mut tmp = [0u8; 4096];
        let (head_end, status) = loop {
            let n = self.stream.read(&mut tmp).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed",
                ));
            }
            self.buf.extend_from_slice(&tmp[..n]);
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..i]).to_string();
                let status = head
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                break (i + 4, (status, head));
            }
        };
        let (code, head) = status;
        let len = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
            })
            .unwrap_or(0);
        while self.buf.len() < head_end + len {
            let n = self.stream.read(&mut tmp).await?;
            if n == 0 {
                break;
            }
            self.buf.extend_from_slice(&tmp[..n]);
        }
        Ok(code)
    }
}

pub fn basic(key: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
    )
}

/// A batch of `n` track events numbered from `first`.
pub fn batch_body(first: u64, n: u64, user_of: impl Fn(u64) -> u64) -> Vec<u8> {
    let mut s = String::with_capacity(n as usize * 220);
    s.push_str("{\"batch\":[");
    for i in first..first + n {
        if i > first {
            s.push(',');
        }
        s.push_str(&format!(
            "{{\"type\":\"track\",\"userId\":\"u{}\",\"event\":\"Product Viewed\",\"messageId\":\"n-{i}\",\"timestamp\":\"2026-11-01T10:00:00Z\",\"properties\":{{\"product_id\":\"p{}\",\"price\":49.5,\"currency\":\"SAR\"}}}}",
            user_of(i),
            i % 500
        ));
    }
    s.push_str("]}");
    s.into_bytes()
}

pub struct LoadResult {
    pub sent: u64,
    pub ok: u64,
    pub failed: u64,
    pub seconds: f64,
    pub latencies_ms: Vec<f64>,
}

/// Send `total` requests at `rate` per second over `conns` connections; `make(i)` builds
/// request i as (path, headers, body).
pub async fn open_loop<F>(
    addr: &str,
    conns: usize,
    rate: f64,
    total: u64,
    make: F,
) -> Result<LoadResult, AppError>
where
    F: Fn(u64) -> (String, Vec<(&'static str, String)>, Vec<u8>) + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (make, next, addr) = (make.clone(), next.clone(), addr.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&addr).await.ok();
            let (mut ok, mut failed, mut lat) = (0u64, 0u64, Vec::new());
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= total {
                    break;
                }
                let due = start + interval * i as u32;
                tokio::time::sleep_until(due.into()).await;
                let (path, headers, body) = make(i);
                let c = match conn.as_mut() {
                    Some(c) => c,
                    None => {
                        conn = Conn::open(&addr).await.ok();
                        match conn.as_mut() {
                            Some(c) => c,
                            None => {
                                failed += 1;
                                continue;
                            }
                        }
                    }
                };
                match c.post(&path, &headers, &body).await {
                    Ok(s) if (200..300).contains(&s) => {
                        ok += 1;
                        lat.push(due.elapsed().as_secs_f64() * 1000.0);
                    }
                    Ok(_) => failed += 1,
                    Err(_) => {
                        failed += 1;
                        conn = None;
                    }
                }
            }
            (ok, failed, lat)
        }));
    }
    let mut r = LoadResult {
        sent: total,
        ok: 0,
        failed: 0,
        seconds: 0.0,
        latencies_ms: Vec::new(),
    };
    for t in tasks {
        let (ok, failed, lat) = t.await.map_err(|e| AppError::internal(e.to_string()))?;
        r.ok += ok;
        r.failed += failed;
        r.latencies_ms.extend(lat);
    }
    r.seconds = start.elapsed().as_secs_f64();
    Ok(r)
}
