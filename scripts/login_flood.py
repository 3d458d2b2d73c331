#!/usr/bin/env python3
"""Login-flood bench driver (see login-flood-bench.sh): GET /v1/me latency with and
without a concurrent flood of failing logins, against one authd. Stdlib only.

usage: login_flood.py BASE LABEL SECONDS FLOODERS"""
import http.client, json, sys, threading, time
from urllib.parse import urlparse

base, label, seconds, flooders = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
u = urlparse(base)


def conn():
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def post(c, path, body):
    c.request("POST", path, json.dumps(body), {"content-type": "application/json"})
    r = c.getresponse()
    return r.status, r.read()


c = conn()
creds = {"email": f"bench-{label}@example.com", "password": "correct horse battery"}
post(c, "/v1/auth/register", creds)
status, body = post(c, "/v1/auth/login", creds)
assert status == 200, (status, body)
token = json.loads(body)["access_token"]


def measure(duration):
    lat = []
    c = conn()
    end = time.perf_counter() + duration
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        c.request("GET", "/v1/me", headers={"authorization": "Bearer " + token})
        r = c.getresponse()
        r.read()
        lat.append(time.perf_counter() - t0)
        assert r.status == 200, r.status
    lat.sort()
    return lat


def pct(lat, p):
    return lat[min(len(lat) - 1, int(len(lat) * p))] * 1000


stop = threading.Event()
flood_status = {}
lock = threading.Lock()


def flood():
    c = conn()
    bad = {"email": creds["email"], "password": "wrong password!"}
    while not stop.is_set():
        try:
            s, _ = post(c, "/v1/auth/login", bad)
        except Exception:
            s = 0
            c = conn()
        with lock:
            flood_status[s] = flood_status.get(s, 0) + 1


quiet = measure(seconds)
threads = [threading.Thread(target=flood, daemon=True) for _ in range(flooders)]
for t in threads:
    t.start()
time.sleep(1)
flooded = measure(seconds)
stop.set()
for t in threads:
    t.join(timeout=30)
q99, f99 = pct(quiet, 0.99), pct(flooded, 0.99)
print(f"{label}: /v1/me without flood p50 {pct(quiet, .5):.2f} ms p99 {q99:.2f} ms ({len(quiet)} requests); "
      f"under {flooders} flooding clients p50 {pct(flooded, .5):.2f} ms p99 {f99:.2f} ms ({len(flooded)} requests); "
      f"p99 ratio {f99 / q99:.2f}; flood answers {dict(sorted(flood_status.items()))}")
