#!/usr/bin/env python3
"""Checks that the two emulated links answer alike: benches/slow_link.rs (the cloud suite's default)
and benches/slow_http.py (the tests' server, `run.py --server python`).

    python benches/compare_links.py [ROOT]

Serves ROOT (default: bench-data/365d, the benchmark store of run.py) from both, sends each the same
requests (whole and ranged GETs, suffix and open ranges, a multi-range and an unsatisfiable one,
If-Match right and wrong, a path outside the root, missing files, PROPFIND at depth 0, 1 and
infinity, and a listing of a folder holding a link to its parent), and compares status, body and the
headers a client reads. Prints one line per request
and exits 1 on a difference other than the one known: a HEAD refused with 412 carries no
`Content-Length: 0` from hyper.
"""

import http.client
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run  # noqa: E402  (builds the release slow_link binary)
import slow_http  # noqa: E402  (the ETag it gives a file)

HEADERS = ("content-length", "content-range", "etag", "last-modified", "accept-ranges", "content-type")


def start(cmd, root):
    proc = subprocess.Popen([*cmd, root, "--port", "0", "--latency-ms", "1"], stdout=subprocess.PIPE,
                            text=True)
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        sys.exit(f"{cmd[-1]} did not start: {line!r}")
    return proc, int(line.split()[1])


def ask(port, method, path, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, headers=headers)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders() if k.lower() in HEADERS}, body


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(run.REPO, "bench-data", "365d")
    store = "/sla_v2.zarr"
    if not os.path.isdir(root + store):
        sys.exit(f"no {root + store}: run `make bench` once (it writes the benchmark store)")
    unexpected = compare(root, store_cases(root, store))
    with tempfile.TemporaryDirectory() as tmp:
        # a folder holding a file and a link back to its parent: listed, not entered
        os.makedirs(os.path.join(tmp, "d"))
        with open(os.path.join(tmp, "d", "f"), "w") as f:
            f.write("x")
        os.symlink("..", os.path.join(tmp, "d", "up"))
        unexpected += compare(tmp, [("PROPFIND", "/", {}), ("PROPFIND", "/d/up/", {"Depth": "1"})])
    print(f"{unexpected} unexpected differences")
    sys.exit(1 if unexpected else 0)


def store_cases(root, store):
    """Requests on the benchmark store."""
    meta = store + "/.zmetadata"
    e_tag = slow_http.etag(os.stat(root + meta))
    return [("GET", meta, {}), ("HEAD", meta, {}),
            ("GET", meta, {"Range": "bytes=10-99"}), ("GET", meta, {"Range": "bytes=100-"}),
            ("GET", meta, {"Range": "bytes=-50"}), ("GET", meta, {"Range": "bytes=99999-"}),
            ("GET", meta, {"Range": "bytes=0-5,10-20"}), ("GET", meta, {"If-Match": e_tag}),
            ("GET", meta, {"If-Match": '"other"'}), ("HEAD", meta, {"If-Match": '"other"'}),
            ("GET", "/missing", {}), ("GET", "/../../etc/passwd", {}), ("GET", store, {}),
            ("GET", store + "/sla/0.0.0", {"Range": "bytes=0-1000"}),
            ("PROPFIND", store + "/latitude/", {"Depth": "0"}),
            ("PROPFIND", store + "/latitude/", {"Depth": "1"}),
            ("PROPFIND", store + "/time", {}), ("PROPFIND", "/missing/", {"Depth": "1"}),
            ("PROPFIND", store + "/.zattrs", {"Depth": "0"})]


def compare(root, cases):
    """Sends each case to both servers serving `root`; the number of unexpected differences."""
    rust, rport = start([run.build_slow_link()], root)
    py, pport = start([sys.executable, os.path.join(HERE, "slow_http.py")], root)
    try:
        unexpected = 0
        for method, path, headers in cases:
            a, b = ask(rport, method, path, headers), ask(pport, method, path, headers)
            known = (method == "HEAD" and a[0] == b[0] == 412 and a[2] == b[2]
                     and a[1] == {k: v for k, v in b[1].items() if k != "content-length"})
            verdict = "same" if a == b else "known difference" if known else "DIFFERENT"
            unexpected += verdict == "DIFFERENT"
            print(f"{verdict:16} {method} {path} {headers} -> {a[0]} / {b[0]}")
            if verdict == "DIFFERENT":
                print(f"    slow_link: {a[1]} {a[2][:200]!r}\n    slow_http: {b[1]} {b[2][:200]!r}")
        print(f"{root}: {len(cases)} requests, {unexpected} unexpected differences")
        return unexpected
    finally:
        rust.kill()
        py.kill()


if __name__ == "__main__":
    main()
