#!/usr/bin/env python3
"""The soak's load and sampler (see soak.sh): CLIENTS threads each log in once, then
loop refresh + GET /v1/me until the time is up; every 10 s one line with authd's RSS,
open file descriptors, requests so far and errors so far. Stdlib only."""
import json, os, sys, threading, time, urllib.error, urllib.request

base, pid, seconds, clients, label = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
lock = threading.Lock()
counts = {"requests": 0, "errors": 0}
deadline = time.monotonic() + seconds


def call(method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None
    except Exception:
        return 0, None


def client(i):
    creds = {"email": f"soak-{label}-{i}@example.com", "password": "correct horse battery"}
    call("POST", "/v1/auth/register", creds)
    status, pair = call("POST", "/v1/auth/login", creds)
    if status != 200:
        with lock:
            counts["errors"] += 1
        return
    while time.monotonic() < deadline:
        s1, new = call("POST", "/v1/auth/refresh", {"refresh_token": pair["refresh_token"]})
        ok = s1 == 200
        if ok:
            pair = new
            s2, _ = call("GET", "/v1/me", token=pair["access_token"])
            ok = s2 == 200
        with lock:
            counts["requests"] += 2 if s1 == 200 else 1
            if not ok:
                counts["errors"] += 1
        if not ok:
            status, relogin = call("POST", "/v1/auth/login", creds)
            if status == 200:
                pair = relogin


def sample():
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with lock:
        return rss, fds, counts["requests"], counts["errors"]


threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
for t in threads:
    t.start()
samples = []
start = time.monotonic()
while time.monotonic() < deadline:
    time.sleep(min(10, max(0.0, deadline - time.monotonic())))
    rss, fds, reqs, errs = sample()
    samples.append((round(time.monotonic() - start), rss, fds, reqs, errs))
    print(f"soak {label}: t={samples[-1][0]}s rss={rss}kB fds={fds} requests={reqs} errors={errs}", flush=True)
for t in threads:
    t.join(timeout=15)
if samples:
    first, last = samples[0], samples[-1]
    print(f"soak {label}: first t={first[0]}s rss={first[1]}kB fds={first[2]}; "
          f"last t={last[0]}s rss={last[1]}kB fds={last[2]}; requests={last[3]} errors={last[4]}")
