#!/usr/bin/env python3
"""A static HTTP file server on loopback that behaves like an object store seen from a cloud VM.

    python benches/slow_http.py ROOT [--port 0] [--latency-ms 30] [--rate-mbps 100]
                                     [--stall-every N --stall-s S] [--die-after N]

Every response waits --latency-ms before its first byte (the round trip and the store's time to first
byte) and then streams its body at most --rate-mbps megabytes (10^6 bytes) per second on its
connection (one GET's throughput): in pieces of 10 ms of that rate, each sent (by sendfile, without
passing through Python) when the emulated link would have finished it. Serves GET (whole objects and
single byte ranges, `Range: bytes=a-b`, `a-` and `-n`, answered 206) and HEAD, with Content-Length,
Last-Modified and an ETag (a GET or HEAD whose `If-Match` names another ETag is answered 412); HTTP/1.1 with keep-alive, one thread per connection, so the number of
requests in flight is the client's choice. Listings are WebDAV PROPFIND (`Depth: 0`, `1` or
`infinity`), answered 207 with a multistatus of href, getlastmodified, getcontentlength, resourcetype
and getetag per file or folder (the same Last-Modified and ETag as GET and HEAD), as object_store's
HttpStore `list` expects; 404 for a missing path. A listing waits --latency-ms like any request.

Faults, for tests: --stall-every N holds every Nth request for --stall-s seconds before answering
(a request a client must time out and retry); --die-after N ends the process when request N+1 comes
(a store that goes away in the middle of a query).

Counters (requests of every kind, body bytes, peak requests in flight; and per kind `gets` (GETs of
files), `heads` and `listings` (PROPFINDs)) are served at GET /__stats as JSON and reset by
GET /__reset; neither waits. The port chosen is printed as `PORT <n>` on stdout once the
server listens. This is the emulated link of `benches/run.py --suite cloud` (there is no traffic
shaping in the kernel on the benchmark machines).
"""

import argparse
import email.utils
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, urlsplit
from xml.sax.saxutils import escape

# The link is emulated in pieces of TICK seconds of its rate (at least MIN_PIECE bytes): each piece
# leaves when a link of that rate would have finished sending it, so a response ends when it would
# on the real link, and a connection wakes the server about 100 times a second rather than once per
# 64 KiB (the server shares the benchmark machine's cores with the client it serves).
TICK = 0.01
MIN_PIECE = 64 * 1024


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with getattr(self, "lock", threading.Lock()):
            self.requests = 0
            self.bytes = 0
            self.in_flight = 0
            self.peak = 0
            self.ranged = 0
            self.kinds = {"gets": 0, "heads": 0, "listings": 0}

    def begin(self, ranged, kind):
        with self.lock:
            self.requests += 1
            self.ranged += int(ranged)
            self.kinds[kind] += 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def end(self, sent):
        with self.lock:
            self.in_flight -= 1
            self.bytes += sent

    def snapshot(self):
        with self.lock:
            return {"requests": self.requests, "ranged_requests": self.ranged, "bytes": self.bytes,
                    "peak_in_flight": self.peak, "in_flight": self.in_flight, **self.kinds}


def parse_range(header, size):
    """(start, end exclusive) of a single `bytes=` range, or None when it is not satisfiable."""
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            n = int(last)
            return (max(0, size - n), size) if n > 0 else None
        start = int(first)
        end = size if last == "" else min(size, int(last) + 1)
    except ValueError:
        return None
    return (start, end) if start < end else None


def last_modified(st):
    """The Last-Modified of a file or folder (RFC 1123, as GET, HEAD and PROPFIND send it)."""
    return email.utils.formatdate(st.st_mtime, usegmt=True)


def etag(st):
    """The quoted ETag of a file (GET, HEAD and PROPFIND): its inode, size and modification time."""
    return f'"{st.st_ino:x}-{st.st_size:x}-{int(st.st_mtime_ns):x}"'


def propfind_response(href, st, is_dir):
    """One `<D:response>` of a multistatus: a folder (a collection) or a file."""
    if is_dir:
        props = "<D:resourcetype><D:collection/></D:resourcetype>"
    else:
        props = (f"<D:getcontentlength>{st.st_size}</D:getcontentlength><D:resourcetype/>"
                 f"<D:getetag>{escape(etag(st))}</D:getetag>")
    return (f"<D:response><D:href>{escape(href)}</D:href><D:propstat><D:prop>"
            f"<D:getlastmodified>{last_modified(st)}</D:getlastmodified>{props}</D:prop>"
            f"<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>")


def handler(root, latency, rate, stats, faults):
    root = os.path.realpath(root)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # TCP_NODELAY: a response is its headers, then its body in another write. With Nagle's
        # algorithm a body shorter than a segment waits for the client's acknowledgement of the
        # headers, which Linux delays up to 40 ms on a connection in use: every small response
        # (a blosc chunk's header and block table) took 40 ms more than the emulated link's.
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def inside(self, path):
            """The real path of `path` when it lies under the root, else None."""
            path = os.path.realpath(path)
            return path if path == root or path.startswith(root + os.sep) else None

        def resolve(self, folders=False):
            """The file (or, with `folders`, the file or folder) the request names, else None."""
            rel = unquote(urlsplit(self.path).path).lstrip("/")
            path = self.inside(os.path.join(root, rel))
            if path is None:
                return None
            return path if os.path.isfile(path) or (folders and os.path.isdir(path)) else None

        def href(self, path):
            """The URL path of a file or folder under the root (folders end with `/`)."""
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            href = "/" if rel == "." else "/" + quote(rel)
            return href + "/" if os.path.isdir(path) and not href.endswith("/") else href

        def begin(self, ranged, kind):
            """Counts a request, applies the faults, then waits the latency."""
            stats.begin(ranged, kind)
            n = stats.snapshot()["requests"]
            if faults.die_after and n > faults.die_after:
                os._exit(0)
            if faults.stall_every and n % faults.stall_every == 0:
                time.sleep(faults.stall_s)
            time.sleep(latency)

        def not_found(self):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def stream(self, send, n):
            """Sends `n` bytes at most `rate` bytes/s through `send(offset, size)`, which sends the
            body's bytes [offset, offset + size) and returns how many it sent; the bytes sent."""
            piece = max(MIN_PIECE, int(rate * TICK))
            sent = 0
            t0 = time.perf_counter()
            while sent < n:
                size = min(piece, n - sent)
                wait = (sent + size) / rate - (time.perf_counter() - t0)
                if wait > 0:
                    time.sleep(wait)
                done = send(sent, size)
                if done <= 0:
                    break
                sent += done
            return sent

        def do_PROPFIND(self):
            # a PROPFIND may carry a body (the properties wanted): all are sent anyway
            length = int(self.headers.get("Content-Length") or 0)
            if length > 0:
                self.rfile.read(length)
            depth = (self.headers.get("Depth") or "infinity").strip().lower()
            sent = 0
            try:
                self.begin(False, "listings")
                path = self.resolve(folders=True)
                if path is None:
                    self.not_found()
                    return
                found = [path]
                if os.path.isdir(path) and depth != "0":
                    for top, dirs, files in os.walk(path):
                        dirs.sort()
                        for name in dirs + sorted(files):
                            p = self.inside(os.path.join(top, name))
                            if p is not None and (os.path.isfile(p) or os.path.isdir(p)):
                                found.append(os.path.join(top, name))
                        if depth == "1":
                            break
                parts = []
                for p in found:
                    st = os.stat(p)
                    parts.append(propfind_response(self.href(p), st, os.path.isdir(p)))
                data = ('<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:">'
                        + "".join(parts) + "</D:multistatus>").encode()
                self.send_response(207, "Multi-Status")
                self.send_header("Content-Type", 'application/xml; charset="utf-8"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                view = memoryview(data)

                def send(offset, size):
                    self.connection.sendall(view[offset:offset + size])
                    return size

                sent = self.stream(send, len(data))
            finally:
                stats.end(sent)

        def do_HEAD(self):
            self.serve(body=False)

        def do_GET(self):
            if self.path in ("/__stats", "/__reset"):
                if self.path == "/__reset":
                    stats.reset()
                body = json.dumps(stats.snapshot()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.serve(body=True)

        def serve(self, body):
            rng = self.headers.get("Range")
            sent = 0
            try:
                self.begin(rng is not None, "gets" if body else "heads")
                path = self.resolve()
                if path is None:
                    self.not_found()
                    return
                st = os.stat(path)
                start, end = 0, st.st_size
                match = self.headers.get("If-Match")
                if match is not None and match.strip() not in ("*", etag(st)):
                    # another version of the object than the client read before (RFC 9110 13.1.1)
                    self.send_response(412)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if rng is not None:
                    r = parse_range(rng, st.st_size)
                    if r is None:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{st.st_size}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    start, end = r
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{end - 1}/{st.st_size}")
                else:
                    self.send_response(200)
                    self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(end - start))
                self.send_header("Last-Modified", last_modified(st))
                self.send_header("ETag", etag(st))
                self.end_headers()
                if not body:
                    return
                with open(path, "rb") as f:
                    # zero-copy: the file's pages go to the socket without passing through Python
                    sent = self.stream(lambda offset, size: self.connection.sendfile(f, start + offset, size),
                                       end - start)
            finally:
                stats.end(sent)

    return Handler


class Server(ThreadingHTTPServer):
    # set before the socket listens: a client opening many connections at once must not wait
    # on a full accept queue (the default of 5 turns a burst into SYN retries of a second)
    request_queue_size = 1024
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency-ms", type=float, default=30.0)
    ap.add_argument("--rate-mbps", type=float, default=100.0, help="megabytes per second per connection")
    ap.add_argument("--stall-every", type=int, default=0, help="hold every Nth request (0: none)")
    ap.add_argument("--stall-s", type=float, default=30.0, help="how long a held request waits")
    ap.add_argument("--die-after", type=int, default=0, help="exit when request N+1 comes (0: never)")
    a = ap.parse_args()
    stats = Stats()
    server = Server(("127.0.0.1", a.port),
                                 handler(a.root, a.latency_ms / 1000.0, a.rate_mbps * 1e6, stats, a))
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
