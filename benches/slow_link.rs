//! The emulated cloud link of `benches/run.py --suite cloud`, in Rust.
//!
//! ```text
//! slow_link ROOT [--port 0] [--latency-ms 30] [--rate-mbps 100]
//! ```
//!
//! The same server as `benches/slow_http.py`, less its faults (which the
//! tests use): every response waits `--latency-ms` before its first byte,
//! then streams its body at most `--rate-mbps` megabytes (10^6 bytes) per
//! second on its connection, in pieces of 10 ms of that rate, each sent when
//! the emulated link would have finished it. GET (whole files and single
//! byte ranges, answered 206), HEAD and WebDAV PROPFIND listings (`Depth` 0,
//! 1 or infinity), with Content-Length, Last-Modified and an ETag; a GET or
//! HEAD whose `If-Match` names another ETag is answered 412. HTTP/1.1 with
//! keep-alive, any number of connections. Counters at `GET /__stats` (JSON,
//! the keys slow_http.py sends), reset by `GET /__reset`. Prints
//! `PORT <n>` once it listens.
//!
//! Why a second server: on a cloud VM the object store's CPU is not the
//! client's, but here the emulator shares the client's two cores.
//! slow_http.py used 50 ms of CPU per run of the benchmark's box query (Q3:
//! 91 requests, 39 MB; the query takes about 0.1 s), this server 19.5 ms
//! (each over 21 runs, from `/proc/<pid>/stat`), so the suite charges the
//! client less of the emulator's work. Both serve the same
//! bytes with the same latency and rate; `run.py --server python` still uses
//! slow_http.py.

use std::convert::Infallible;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderValue, IF_MATCH, RANGE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::time::Instant;

/// Each piece of a body is this long on the link (at least [`MIN_PIECE`]
/// bytes), as in slow_http.py.
const TICK: f64 = 0.01;
const MIN_PIECE: usize = 64 * 1024;

type Body = BoxBody<Bytes, std::io::Error>;

/// The link: where files are, and how slow it is.
struct Link {
    root: PathBuf,
    latency: Duration,
    /// Bytes per second on one connection.
    rate: f64,
    stats: Stats,
}

/// The counters of `/__stats`.
#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    ranged: AtomicU64,
    bytes: AtomicU64,
    in_flight: AtomicU64,
    peak: AtomicU64,
    gets: AtomicU64,
    heads: AtomicU64,
    listings: AtomicU64,
}

impl Stats {
    fn begin(&self, ranged: bool, kind: &AtomicU64) {
        self.requests.fetch_add(1, Relaxed);
        self.ranged.fetch_add(u64::from(ranged), Relaxed);
        kind.fetch_add(1, Relaxed);
        let now = self.in_flight.fetch_add(1, Relaxed) + 1;
        self.peak.fetch_max(now, Relaxed);
    }

    fn reset(&self) {
        for c in [
            &self.requests,
            &self.ranged,
            &self.bytes,
            &self.peak,
            &self.gets,
            &self.heads,
            &self.listings,
        ] {
            c.store(0, Relaxed);
        }
        self.peak.store(self.in_flight.load(Relaxed), Relaxed);
    }

    fn json(&self) -> String {
        let g = |c: &AtomicU64| c.load(Relaxed);
        format!(
            r#"{{"requests": {}, "ranged_requests": {}, "bytes": {}, "peak_in_flight": {}, "in_flight": {}, "gets": {}, "heads": {}, "listings": {}}}"#,
            g(&self.requests),
            g(&self.ranged),
            g(&self.bytes),
            g(&self.peak),
            g(&self.in_flight),
            g(&self.gets),
            g(&self.heads),
            g(&self.listings)
        )
    }
}

/// Ends a request in the counters when the response's body is done (or
/// dropped by a client that went away), with the bytes it sent.
struct InFlight {
    link: Arc<Link>,
    sent: u64,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.link.stats.in_flight.fetch_sub(1, Relaxed);
        self.link.stats.bytes.fetch_add(self.sent, Relaxed);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut root = None;
    let (mut port, mut latency_ms, mut rate_mbps) = (0u16, 30.0f64, 100.0f64);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--port" => port = value()?.parse()?,
            "--latency-ms" => latency_ms = value()?.parse()?,
            "--rate-mbps" => rate_mbps = value()?.parse()?,
            "--bench" => {} // what `cargo bench` passes
            _ if root.is_none() && !a.starts_with('-') => root = Some(a),
            _ => return Err(format!("unexpected argument {a:?}").into()),
        }
    }
    let root = root.ok_or("usage: slow_link ROOT [--port N] [--latency-ms MS] [--rate-mbps MB]")?;
    if !(latency_ms >= 0.0 && rate_mbps > 0.0) {
        return Err("--latency-ms must be >= 0 and --rate-mbps > 0".into());
    }
    let link = Arc::new(Link {
        root: std::fs::canonicalize(&root)?,
        latency: Duration::from_secs_f64(latency_ms / 1000.0),
        rate: rate_mbps * 1e6,
        stats: Stats::default(),
    });
    // One thread: the emulator shares the benchmark machine's cores.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        println!("PORT {}", listener.local_addr()?.port());
        loop {
            let (socket, _) = listener.accept().await?;
            // A response's headers and a short body must not wait for the
            // client's delayed acknowledgement (see slow_http.py).
            socket.set_nodelay(true)?;
            let link = Arc::clone(&link);
            tokio::spawn(async move {
                let service = service_fn(move |req| answer(Arc::clone(&link), req));
                // A client that hangs up mid-body is not the server's error.
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(socket), service)
                    .await;
            });
        }
    })
}

async fn answer(link: Arc<Link>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    if req.method() == Method::GET && (path == "/__stats" || path == "/__reset") {
        if path == "/__reset" {
            link.stats.reset();
        }
        let json = link.stats.json();
        return Ok(respond(
            StatusCode::OK,
            full(json.into()),
            &[("Content-Type", "application/json".into())],
        ));
    }
    let stats = &link.stats;
    let ranged = req.headers().contains_key(RANGE);
    let kind = match *req.method() {
        Method::GET => &stats.gets,
        Method::HEAD => &stats.heads,
        _ if req.method().as_str() == "PROPFIND" => &stats.listings,
        _ => {
            return Ok(respond(
                StatusCode::METHOD_NOT_ALLOWED,
                full(Bytes::new()),
                &[],
            ));
        }
    };
    stats.begin(ranged, kind);
    let in_flight = InFlight {
        link: Arc::clone(&link),
        sent: 0,
    };
    tokio::time::sleep(link.latency).await;
    let start = Instant::now();
    let listing = req.method().as_str() == "PROPFIND";
    let depth = req
        .headers()
        .get("Depth")
        .and_then(|d| d.to_str().ok())
        .unwrap_or("infinity")
        .trim()
        .to_ascii_lowercase();
    let Some(file) = resolve(&link.root, &path, listing) else {
        return Ok(respond(StatusCode::NOT_FOUND, full(Bytes::new()), &[]));
    };
    if listing {
        let xml = match multistatus(&link.root, &file, &depth) {
            Ok(xml) => xml,
            Err(_) => return Ok(respond(StatusCode::NOT_FOUND, full(Bytes::new()), &[])),
        };
        let len = xml.len() as u64;
        let body = paced(
            Source::Memory(Bytes::from(xml)),
            0,
            len,
            link.rate,
            start,
            in_flight,
        );
        let headers = [
            (
                "Content-Type",
                "application/xml; charset=\"utf-8\"".to_string(),
            ),
            ("Content-Length", len.to_string()),
        ];
        return Ok(respond(StatusCode::MULTI_STATUS, body, &headers));
    }
    let Ok(meta) = std::fs::metadata(&file) else {
        return Ok(respond(StatusCode::NOT_FOUND, full(Bytes::new()), &[]));
    };
    let size = meta.len();
    let tag = etag(&meta);
    if let Some(m) = req.headers().get(IF_MATCH) {
        let m = m.to_str().unwrap_or("").trim();
        if m != "*" && m != tag {
            return Ok(respond(
                StatusCode::PRECONDITION_FAILED,
                full(Bytes::new()),
                &[],
            ));
        }
    }
    let mut headers = vec![("Last-Modified", last_modified(&meta)), ("ETag", tag)];
    let (status, from, to) = match req.headers().get(RANGE) {
        Some(r) => match parse_range(r, size) {
            Some((a, b)) => {
                headers.push(("Content-Range", format!("bytes {a}-{}/{size}", b - 1)));
                (StatusCode::PARTIAL_CONTENT, a, b)
            }
            None => {
                let h = [("Content-Range", format!("bytes */{size}"))];
                return Ok(respond(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    full(Bytes::new()),
                    &h,
                ));
            }
        },
        None => {
            headers.push(("Accept-Ranges", "bytes".into()));
            (StatusCode::OK, 0, size)
        }
    };
    headers.push(("Content-Length", (to - from).to_string()));
    if req.method() == Method::HEAD {
        drop(in_flight);
        return Ok(respond(status, full(Bytes::new()), &headers));
    }
    let Ok(f) = std::fs::File::open(&file) else {
        return Ok(respond(StatusCode::NOT_FOUND, full(Bytes::new()), &[]));
    };
    let body = paced(Source::File(f), from, to, link.rate, start, in_flight);
    Ok(respond(status, body, &headers))
}

/// Where a body's bytes come from.
enum Source {
    File(std::fs::File),
    Memory(Bytes),
}

/// Bytes `from..to` of `source`, each piece sent when a link of `rate`
/// bytes/s that started at `start` would have finished sending it.
fn paced(
    source: Source,
    from: u64,
    to: u64,
    rate: f64,
    start: Instant,
    in_flight: InFlight,
) -> Body {
    let piece = ((rate * TICK) as usize).max(MIN_PIECE) as u64;
    // The counter rides in the stream's state: it ends the request when the
    // body is done or dropped.
    let stream = futures::stream::unfold(
        (source, from, in_flight),
        move |(source, at, mut in_flight)| async move {
            let n = to.saturating_sub(at).min(piece);
            if n == 0 {
                return None;
            }
            let due = start + Duration::from_secs_f64((at - from + n) as f64 / rate);
            tokio::time::sleep_until(due).await;
            let bytes = match &source {
                Source::Memory(b) => Ok(b.slice(at as usize..(at + n) as usize)),
                Source::File(f) => {
                    let mut buf = vec![0u8; n as usize];
                    f.read_exact_at(&mut buf, at).map(|()| Bytes::from(buf))
                }
            };
            in_flight.sent += n;
            Some((bytes.map(Frame::data), (source, at + n, in_flight)))
        },
    );
    BodyExt::boxed(StreamBody::new(stream))
}

fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

fn respond(status: StatusCode, body: Body, headers: &[(&'static str, String)]) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    for (k, v) in headers {
        if let Ok(v) = HeaderValue::from_str(v) {
            r.headers_mut().insert(*k, v);
        }
    }
    r
}

/// The file (or, for a listing, the file or folder) a URL path names under
/// the root, after resolving links; `None` outside the root.
fn resolve(root: &Path, url_path: &str, folders: bool) -> Option<PathBuf> {
    let rel = percent_decode(url_path.trim_start_matches('/'))?;
    let path = std::fs::canonicalize(root.join(rel)).ok()?;
    if !path.starts_with(root) {
        return None;
    }
    let meta = std::fs::metadata(&path).ok()?;
    (meta.is_file() || (folders && meta.is_dir())).then_some(path)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A single `bytes=` range as (start, end exclusive), or `None` when it is
/// not satisfiable (the rules of slow_http.py's `parse_range`).
fn parse_range(header: &HeaderValue, size: u64) -> Option<(u64, u64)> {
    let spec = header.to_str().ok()?.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.trim().split_once('-')?;
    let (start, end) = if first.is_empty() {
        let n: u64 = last.parse().ok()?;
        (size.saturating_sub(n), size)
    } else {
        let start: u64 = first.parse().ok()?;
        let end = if last.is_empty() {
            size
        } else {
            size.min(last.parse::<u64>().ok()?.checked_add(1)?)
        };
        (start, end)
    };
    (start < end).then_some((start, end))
}

/// The quoted ETag slow_http.py gives a file: inode, size and mtime in ns.
fn etag(meta: &std::fs::Metadata) -> String {
    let ns = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
    format!("\"{:x}-{:x}-{:x}\"", meta.ino(), meta.len(), ns)
}

fn last_modified(meta: &std::fs::Metadata) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(u64::try_from(meta.mtime()).unwrap_or(0));
    httpdate::fmt_http_date(t)
}

/// The WebDAV multistatus of a file or folder and, by `depth`, what it
/// holds (sorted, folders first at each level, as slow_http.py walks).
fn multistatus(root: &Path, path: &Path, depth: &str) -> std::io::Result<String> {
    let mut found = vec![path.to_path_buf()];
    if path.is_dir() && depth != "0" {
        walk(root, path, depth == "1", &mut found)?;
    }
    let mut xml =
        String::from(r#"<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:">"#);
    for p in &found {
        let meta = std::fs::metadata(p)?;
        let rel = p.strip_prefix(root).unwrap_or(Path::new(""));
        let mut href = format!("/{}", percent_encode(&rel.to_string_lossy()));
        if meta.is_dir() && !href.ends_with('/') {
            href.push('/');
        }
        let props = if meta.is_dir() {
            "<D:resourcetype><D:collection/></D:resourcetype>".to_string()
        } else {
            format!(
                "<D:getcontentlength>{}</D:getcontentlength><D:resourcetype/><D:getetag>{}</D:getetag>",
                meta.len(),
                xml_escape(&etag(&meta))
            )
        };
        xml.push_str(&format!(
            "<D:response><D:href>{}</D:href><D:propstat><D:prop><D:getlastmodified>{}</D:getlastmodified>{props}</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>",
            xml_escape(&href),
            last_modified(&meta)
        ));
    }
    xml.push_str("</D:multistatus>");
    Ok(xml)
}

fn walk(root: &Path, dir: &Path, one_level: bool, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        match std::fs::canonicalize(&p) {
            Ok(real) if real.starts_with(root) && real.is_dir() => dirs.push(p),
            Ok(real) if real.starts_with(root) && real.is_file() => files.push(p),
            _ => {}
        }
    }
    dirs.sort();
    files.sort();
    found.extend(dirs.iter().cloned());
    found.extend(files);
    if !one_level {
        // Like os.walk: a link to a folder is listed, not entered (a link
        // to a parent would never end).
        for d in dirs.iter().filter(|d| !d.is_symlink()) {
            walk(root, d, false, found)?;
        }
    }
    Ok(())
}

/// Python's `urllib.parse.quote` with its default safe `/`.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"/_.-~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
