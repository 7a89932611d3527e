#!/usr/bin/env python3
"""Adversarial soak driver for authgate (started by tests/soak/run.sh; python3 stdlib only).

Starts the demo backend, a second demo backend (the smuggling "canary"), the JWKS issuer
and the gateway, each by PID (recorded in --pidfile so run.sh's EXIT trap can stop them
too), then for --duration seconds mixes, concurrently and all on 127.0.0.1:

  valid traffic   GET / POST (Content-Length and chunked) on /public/ and on /protected/
                  (RS256 JWT, key from the issuer's jwks_url); every answer is checked
                  against the demo backend's echo (method, path, query, body, X-User-Id)
  attacks         Connection: Content-Length smuggling (to /canary/), Content-Length with
                  Transfer-Encoding, differing duplicate Content-Length, bad chunk sizes,
                  slowloris headers, trickled bodies, huge chunk-size lines, endless trailers
  chaos           SIGHUP to the gateway every --hup-interval s; the JWKS issuer killed for
                  --jwks-down s every --jwks-period s and restarted on the same port

and checks: 0 valid requests failed, gateway VmRSS (sampled every second) under
--rss-limit-mib, /proc/PID/fd count at the end <= after warm-up + --fd-slack (after a
bounded settle), gateway alive, nothing smuggled to the canary, every attack outcome one of
those expected for its kind. Prints a summary; exit 0 = pass, 1 = fail, 2 = could not run.
"""
import argparse
import asyncio
import collections
import json
import os
import random
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.request

HOST = "127.0.0.1"


# ---------------------------------------------------------------------------------------
# processes

class Procs:
    """Children started by PID; each start is appended to the pidfile as 'PID NAME'."""

    def __init__(self, pidfile, workdir):
        self.pidfile = pidfile
        self.workdir = workdir
        self.procs = {}  # name -> Popen
        self.logs = {}

    def start(self, name, argv, port=None, timeout=10.0):
        log = open(os.path.join(self.workdir, name + ".log"), "ab")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self.procs[name] = p
        with open(self.pidfile, "a") as f:
            f.write(f"{p.pid} {name}\n")
        if port is not None:
            deadline = time.monotonic() + timeout
            while True:
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited during start-up (status {p.returncode}); see {name}.log")
                try:
                    socket.create_connection((HOST, port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{name} did not listen on {port} within {timeout:.0f}s")
                    time.sleep(0.05)
        return p

    def stop(self, name, sig=signal.SIGTERM, wait=10.0):
        p = self.procs.get(name)
        if p is None or p.poll() is not None:
            return p.returncode if p is not None else None
        try:
            p.send_signal(sig)
            return p.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            print(f"soak: {name} (pid {p.pid}) did not stop within {wait:.0f}s, killing", file=sys.stderr)
            p.kill()
            try:
                return p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                return None

    def stop_all(self):
        codes = {}
        for name in reversed(list(self.procs)):
            codes[name] = self.stop(name)
        return codes


# ---------------------------------------------------------------------------------------
# HTTP/1.1 on raw asyncio streams (the attacks need byte-level control)

class Closed(Exception):
    """The peer closed (or reset) before a complete response header arrived."""


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (lower-case name, value)
        self.body = body

    def header(self, name):
        vals = [v for n, v in self.headers if n == name]
        return vals[0] if vals else None

    def wants_close(self):
        return any("close" in v.lower() for n, v in self.headers if n == "connection")


async def read_response(reader, timeout, method="GET", max_body=4 << 20):
    deadline = time.monotonic() + timeout

    def left():
        r = deadline - time.monotonic()
        if r <= 0:
            raise asyncio.TimeoutError()
        return r

    try:
        while True:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), left())
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
                raise Closed("bad status line " + repr(lines[0][:60]))
            status = int(parts[1])
            headers = []
            for line in lines[1:]:
                if not line:
                    continue
                n, _, v = line.partition(":")
                headers.append((n.strip().lower(), v.strip()))
            if 100 <= status < 200 and status != 101:
                continue  # interim (100 Continue)
            break
    except asyncio.TimeoutError:
        raise
    except asyncio.IncompleteReadError as e:
        raise Closed(f"closed after {len(e.partial)} bytes") from None
    except (ConnectionError, OSError) as e:
        raise Closed(type(e).__name__) from None
    except asyncio.LimitOverrunError:
        raise Closed("response header too large") from None
    resp = Response(status, headers, b"")
    te = (resp.header("transfer-encoding") or "").lower()
    cl = resp.header("content-length")
    try:
        if method == "HEAD" or status in (204, 304):
            pass
        elif "chunked" in te:
            body = bytearray()
            while True:
                line = await asyncio.wait_for(reader.readuntil(b"\r\n"), left())
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while (await asyncio.wait_for(reader.readuntil(b"\r\n"), left())) != b"\r\n":
                        pass
                    break
                body += await asyncio.wait_for(reader.readexactly(size + 2), left())
                del body[-2:]
                if len(body) > max_body:
                    raise Closed("response body too large")
            resp.body = bytes(body)
        elif cl is not None:
            resp.body = await asyncio.wait_for(reader.readexactly(int(cl)), left())
        else:
            resp.body = await asyncio.wait_for(reader.read(max_body), left())
    except asyncio.TimeoutError:
        raise
    except asyncio.IncompleteReadError as e:
        raise Closed(f"body truncated after {len(e.partial)} bytes") from None
    except (ConnectionError, OSError) as e:
        raise Closed(type(e).__name__) from None
    return resp


async def connect(port, timeout=5.0):
    return await asyncio.wait_for(asyncio.open_connection(HOST, port, limit=1 << 20), timeout)


async def close_writer(w):
    try:
        w.close()
        await asyncio.wait_for(w.wait_closed(), 2)
    except Exception:
        pass


def parse_echo(body):
    """The demo backend's JSON echo; headers kept as a list of pairs (duplicates visible)."""
    top = json.loads(body, object_pairs_hook=lambda pairs: pairs)
    d = dict(top)
    d["headers"] = [(k.lower(), v) for k, v in d.get("headers", [])]
    return d


# ---------------------------------------------------------------------------------------
# shared state

class State:
    def __init__(self, args):
        self.args = args
        self.soak_end = None        # monotonic time the soak phase ends
        self.stop_valid = False
        self.issuer_down = False
        self.gateway_dead = None    # exit status once seen dead
        self.valid = collections.Counter()         # kind -> ok count
        self.valid_fail = collections.Counter()    # reason -> count
        self.valid_fail_examples = []
        self.valid_ok_issuer_down = 0
        self.attacks = collections.defaultdict(collections.Counter)   # kind -> outcome -> n
        self.attack_times = collections.defaultdict(list)             # kind -> seconds to outcome
        self.attack_bytes = collections.defaultdict(list)             # kind -> bytes sent
        self.smuggle_echoes = 0
        self.smuggle_examples = []
        self.rss_peak_kib = 0
        self.rss_peak_at = 0.0
        self.rss_samples = []
        self.hups = 0
        self.issuer_cycles = 0
        self.issuer_down_total = 0.0
        self.t0 = time.monotonic()

    def soak_over(self):
        return self.soak_end is not None and time.monotonic() >= self.soak_end

    def record(self, kind, outcome, seconds=None, sent=None):
        self.attacks[kind][outcome] += 1
        if seconds is not None and outcome != "aborted_at_end":
            self.attack_times[kind].append(seconds)
        if sent is not None:
            self.attack_bytes[kind].append(sent)

    def fail_valid(self, reason, detail):
        self.valid_fail[reason] += 1
        if len(self.valid_fail_examples) < 15:
            self.valid_fail_examples.append(f"{time.monotonic() - self.t0:7.1f}s {reason}: {detail}")


# ---------------------------------------------------------------------------------------
# valid traffic

LETTERS = "".join(random.Random(1).choices(string.ascii_letters + string.digits + " -_.", k=128 * 1024)).encode()
ORIGIN = "https://app.soak.local"


def random_body(rng):
    n = rng.choice([0, 1, 17, 300, 1024, 4000, 8192, 20000, 60000]) if rng.random() < 0.3 else rng.randint(1, 3000)
    off = rng.randint(0, len(LETTERS) - n)
    return LETTERS[off:off + n]


def chunk_encode(rng, body):
    out = bytearray()
    i = 0
    while i < len(body):
        n = min(len(body) - i, rng.randint(1, 5000))
        out += b"%x\r\n" % n + body[i:i + n] + b"\r\n"
        i += n
    out += b"0\r\n\r\n"
    return bytes(out)


def build_valid(rng, wid, n, tokens, port):
    protected = rng.random() < 0.5
    method, framing = rng.choice([("GET", None), ("POST", "cl"), ("POST", "chunked")])
    path = f"/{'protected' if protected else 'public'}/v/{wid}"
    query = f"n={n}&r={rng.randint(0, 1 << 30)}"
    hdrs = [("Host", f"{HOST}:{port}"), ("User-Agent", "authgate-soak")]
    sub = None
    if protected:
        sub, tok = rng.choice(tokens)
        hdrs.append(("Authorization", "Bearer " + tok))
        if rng.random() < 0.2:
            hdrs.append(("X-User-Id", "mallory"))  # spoofed: must be replaced by the token's sub
    origin = rng.random() < 0.3
    if origin:
        hdrs.append(("Origin", ORIGIN))
    body = b""
    payload = b""
    if method == "POST":
        body = random_body(rng)
        hdrs.append(("Content-Type", "text/plain"))
        if rng.random() < 0.05:
            hdrs.append(("Expect", "100-continue"))
        if framing == "cl":
            hdrs.append(("Content-Length", str(len(body))))
            payload = body
        else:
            hdrs.append(("Transfer-Encoding", "chunked"))
            payload = chunk_encode(rng, body)
    head = f"{method} {path}?{query} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs) + "\r\n"
    kind = f"{method}{'-' + framing if framing else ''} {'protected' if protected else 'public'}"
    return kind, head.encode() + payload, dict(method=method, path=path, query=query, body=body, sub=sub,
                                               origin=origin, protected=protected)


def check_valid(resp, exp):
    if resp.status != 200:
        return "status", f"{resp.status} {resp.body[:160]!r}"
    try:
        echo = parse_echo(resp.body)
    except Exception as e:  # noqa: BLE001
        return "echo-not-json", f"{e}: {resp.body[:160]!r}"
    if echo.get("method") != exp["method"] or echo.get("path") != exp["path"] or echo.get("query") != exp["query"]:
        return "echo-mismatch", (f"sent {exp['method']} {exp['path']}?{exp['query']}, backend saw "
                                 f"{echo.get('method')} {echo.get('path')}?{echo.get('query')}")
    if echo.get("body_bytes") != len(exp["body"]) or echo.get("body", "").encode() != exp["body"]:
        return "body-mismatch", f"sent {len(exp['body'])} bytes, backend saw {echo.get('body_bytes')}"
    uid = [v for k, v in echo["headers"] if k == "x-user-id"]
    if exp["protected"] and uid != [exp["sub"]]:
        return "x-user-id", f"expected [{exp['sub']}], backend saw {uid}"
    if exp["origin"] and resp.header("access-control-allow-origin") != ORIGIN:
        return "cors", f"Access-Control-Allow-Origin {resp.header('access-control-allow-origin')!r}"
    return None, None


async def valid_worker(st, wid, tokens, until):
    a = st.args
    rng = random.Random(wid * 7919 + int(time.time()))
    r = w = None
    uses = 0
    n = 0
    while not st.stop_valid and time.monotonic() < until and n < a.max_valid_per_worker:
        n += 1
        kind, data, exp = build_valid(rng, wid, n, tokens, a.port)
        was_down = st.issuer_down
        try:
            if w is None:
                r, w = await connect(a.port)
                uses = 0
            w.write(data)
            await asyncio.wait_for(w.drain(), 10)
            resp = await read_response(r, 10, exp["method"])
        except (Closed, asyncio.TimeoutError, ConnectionError, OSError) as e:
            why = "no response within 10s" if isinstance(e, asyncio.TimeoutError) else f"{type(e).__name__} {e}"
            st.fail_valid("transport", f"{kind} on a connection used {uses}x: {why}")
            if w is not None:
                await close_writer(w)
            r = w = None
            continue
        reason, detail = check_valid(resp, exp)
        if reason:
            st.fail_valid(reason, f"{kind}: {detail}")
        else:
            st.valid[kind] += 1
            if exp["protected"] and was_down and st.issuer_down:
                st.valid_ok_issuer_down += 1
        uses += 1
        if resp.wants_close() or uses >= 200:
            await close_writer(w)
            r = w = None
        if a.valid_pace > 0:
            await asyncio.sleep(a.valid_pace)
    if w is not None:
        await close_writer(w)


# ---------------------------------------------------------------------------------------
# attacks: each returns (outcome, bytes_sent or None)

def status_class(status):
    return f"{status // 100}xx"


async def classify(r, timeout, method="GET"):
    try:
        resp = await read_response(r, timeout, method)
        return status_class(resp.status), resp
    except Closed:
        return "closed", None
    except asyncio.TimeoutError:
        return "no_answer", None


async def send_and_classify(st, data, timeout=5.0):
    r, w = await connect(st.args.port)
    try:
        try:
            w.write(data)
            await asyncio.wait_for(w.drain(), 5)
        except asyncio.TimeoutError:
            return "stalled", None
        except (ConnectionError, OSError):
            return "closed", None
        outcome, _ = await classify(r, timeout)
        return outcome, None
    finally:
        await close_writer(w)


def host_line(st):
    return f"Host: {HOST}:{st.args.port}\r\n".encode()


async def attack_smuggle(st, n=[0]):
    """Connection: Content-Length hides the body's length from the backend if the gateway
    drops the header as hop-by-hop; the body is a second request, to the canary backend."""
    n[0] += 1
    inner = b"GET /canary/smuggled-%d HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Soak: smuggled\r\n\r\n" % n[0]
    conn = random.choice([b"Content-Length", b"keep-alive, Content-Length", b"content-length"])
    data = (b"POST /canary/outer-%d HTTP/1.1\r\n" % n[0] + host_line(st) + b"Connection: " + conn + b"\r\n"
            b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(inner) + inner)
    r, w = await connect(st.args.port)
    try:
        try:
            w.write(data)
            await asyncio.wait_for(w.drain(), 5)
        except asyncio.TimeoutError:
            return "stalled", None
        except (ConnectionError, OSError):
            return "closed", None
        outcome, resp = await classify(r, 5)
        if outcome != "2xx":
            return outcome, None
        try:
            echo = parse_echo(resp.body)
        except Exception:  # noqa: BLE001
            return "2xx_not_echo", None
        st.smuggle_echoes += 1
        if str(echo.get("path", "")).startswith("/canary/smuggled"):
            if len(st.smuggle_examples) < 5:
                st.smuggle_examples.append(f"outer-{n[0]} was answered with the echo of {echo.get('path')}")
            return "desync", None
        if echo.get("body_bytes") != len(inner):
            if len(st.smuggle_examples) < 5:
                st.smuggle_examples.append(f"outer-{n[0]}: backend saw body_bytes={echo.get('body_bytes')} "
                                           f"(sent {len(inner)}), headers {[k for k, _ in echo['headers']]}")
            return "body_dropped", None
        return "forwarded_intact", None
    finally:
        await close_writer(w)


async def attack_cl_te(st):
    body = b"0\r\n\r\nGET /public/smuggled-clte HTTP/1.1\r\nHost: x\r\n\r\n"
    if random.random() < 0.5:
        hdr = b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % len(body)
    else:
        hdr = b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n"
    return await send_and_classify(st, b"POST /public/clte HTTP/1.1\r\n" + host_line(st) + hdr + b"\r\n" + body)


async def attack_dup_cl(st):
    hdr = random.choice([b"Content-Length: 5\r\nContent-Length: 11\r\n", b"Content-Length: 5, 11\r\n",
                         b"Content-Length: 11\r\nContent-Length: 5\r\n"])
    return await send_and_classify(st, b"POST /public/dupcl HTTP/1.1\r\n" + host_line(st) + hdr +
                                   b"Content-Type: text/plain\r\n\r\nhello world")


async def attack_bad_chunk(st):
    size = random.choice([b"zz", b"-1", b"ffffffffffffffffffffff", b"0x5", b"5 5", b"+5", b""])
    return await send_and_classify(st, b"POST /public/badchunk HTTP/1.1\r\n" + host_line(st) +
                                   b"Transfer-Encoding: chunked\r\n\r\n" + size + b"\r\nhello\r\n0\r\n\r\n")


async def trickle(st, r, w, chunks, interval, limit):
    """Sends one element of `chunks` every `interval` s until the gateway answers or closes,
    `limit` s pass (survived), or the soak ends. Returns (outcome, seconds, bytes sent)."""
    t0 = time.monotonic()
    sent = 0
    for piece in chunks:
        if st.soak_over():
            return "aborted_at_end", time.monotonic() - t0, sent
        if time.monotonic() - t0 >= limit:
            return "survived", time.monotonic() - t0, sent
        try:
            w.write(piece)
            await asyncio.wait_for(w.drain(), 5)
            sent += len(piece)
        except asyncio.TimeoutError:
            return "stalled", time.monotonic() - t0, sent
        except (ConnectionError, OSError):
            return "closed", time.monotonic() - t0, sent
        try:
            data = await asyncio.wait_for(r.read(4096), interval)
            if not data:
                return "closed", time.monotonic() - t0, sent
            if data.startswith(b"HTTP/1.") and len(data) >= 12 and data[9:12].isdigit():
                return status_class(int(data[9:12])), time.monotonic() - t0, sent
            return "garbage", time.monotonic() - t0, sent
        except asyncio.TimeoutError:
            pass
        except (ConnectionError, OSError):
            return "closed", time.monotonic() - t0, sent
    return "finished", time.monotonic() - t0, sent


async def attack_slowloris(st):
    a = st.args
    header = (b"GET /public/slowloris HTTP/1.1\r\n" + host_line(st) +
              b"".join(b"X-Slow-%d: %s\r\n" % (i, b"a" * 40) for i in range(200)))  # never the final CRLF
    r, w = await connect(a.port)
    try:
        outcome, secs, sent = await trickle(st, r, w, (header[i:i + 1] for i in range(len(header))),
                                            a.slowloris_interval, a.slowloris_limit)
        return outcome, secs, sent
    finally:
        await close_writer(w)


async def attack_trickle_body(st):
    a = st.args
    body = b"x" * 64
    head = (b"POST /public/trickle HTTP/1.1\r\n" + host_line(st) +
            b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body))
    r, w = await connect(a.port)
    try:
        w.write(head)
        await asyncio.wait_for(w.drain(), 5)
        outcome, secs, sent = await trickle(st, r, w, (body[i:i + 1] for i in range(len(body))),
                                            a.trickle_interval, a.trickle_limit)
        return outcome, secs, sent + len(head)
    finally:
        await close_writer(w)


async def flood(st, head, block_fn, limit_bytes, hold):
    """Writes head, then blocks until limit_bytes, the gateway closing, or the soak ending;
    then waits up to `hold` s for its answer (the connection stays open meanwhile, so the
    RSS sampler sees whatever the gateway holds for it)."""
    r, w = await connect(st.args.port)
    sent = 0
    try:
        try:
            w.write(head)
            await asyncio.wait_for(w.drain(), 5)
            i = 0
            while sent < limit_bytes:
                if st.soak_over():
                    return "aborted_at_end", sent
                blk = block_fn(i)
                i += 1
                w.write(blk)
                await asyncio.wait_for(w.drain(), 10)
                sent += len(blk)
                if r.at_eof() or len(getattr(r, "_buffer", b"")) > 0:
                    break  # the gateway answered (or closed) early
        except asyncio.TimeoutError:
            return "stalled", sent  # the gateway stopped reading but kept the connection
        except (ConnectionError, OSError):
            return "closed", sent
        outcome, _ = await classify(r, hold)
        if outcome == "no_answer":
            outcome = "absorbed"  # took everything without answering or closing
        return outcome, sent
    finally:
        await close_writer(w)


async def attack_huge_chunk_line(st):
    a = st.args
    head = (b"POST /public/huge-chunk HTTP/1.1\r\n" + host_line(st) +
            b"Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n1;")
    block = b"a" * 65536
    outcome, sent = await flood(st, head, lambda i: block, a.flood_mib << 20, a.flood_hold)
    return outcome, None, sent


async def attack_endless_trailers(st):
    a = st.args
    head = (b"POST /public/trailers HTTP/1.1\r\n" + host_line(st) +
            b"Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n")
    pad = b"v" * 100

    def block(i):
        return b"".join(b"X-Trailer-%d: %s\r\n" % (i * 512 + j, pad) for j in range(512))

    outcome, sent = await flood(st, head, block, a.flood_mib << 20, a.flood_hold)
    return outcome, None, sent


# kind -> (function, concurrency attr, pause between attempts, expected outcomes)
FRAMING_OK = {"4xx", "closed"}
ATTACKS = {
    "smuggle_connection_cl": (attack_smuggle, "conc_framing", 0.1, {"4xx", "closed", "forwarded_intact"}),
    "cl_and_te": (attack_cl_te, "conc_framing", 0.1, FRAMING_OK),
    "duplicate_cl": (attack_dup_cl, "conc_framing", 0.1, FRAMING_OK),
    "bad_chunk_size": (attack_bad_chunk, "conc_framing", 0.1, FRAMING_OK),
    "slowloris_header": (attack_slowloris, "conc_slow", 0.5, {"closed", "4xx"}),
    "trickled_body": (attack_trickle_body, "conc_slow", 0.5, {"closed", "4xx"}),
    "huge_chunk_line": (attack_huge_chunk_line, "conc_flood", 1.0, FRAMING_OK),
    "endless_trailers": (attack_endless_trailers, "conc_flood", 1.0, FRAMING_OK),
}


async def attack_loop(st, kind, fn, pause):
    attempts = 0
    while not st.soak_over() and attempts < st.args.max_attempts:
        attempts += 1
        t0 = time.monotonic()
        try:
            res = await fn(st)
        except (ConnectionError, OSError, asyncio.TimeoutError) as e:
            res = ("connect_error:" + type(e).__name__, None)
        if len(res) == 3:
            outcome, secs, sent = res
        else:
            (outcome, sent), secs = res, None
        st.record(kind, outcome, secs if secs is not None else time.monotonic() - t0, sent)
        await asyncio.sleep(pause)


# ---------------------------------------------------------------------------------------
# monitors and chaos

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


async def monitor(st, gw, done):
    with open(os.path.join(st.args.work, "rss.tsv"), "w") as out:
        out.write("seconds\tvmrss_kib\tfds\n")
        while not done.is_set():
            if gw.poll() is not None:
                st.gateway_dead = gw.returncode
                st.stop_valid = True
                st.soak_end = time.monotonic()
                return
            try:
                kib, fds = rss_kib(gw.pid), fd_count(gw.pid)
            except OSError:
                kib, fds = 0, -1
            t = time.monotonic() - st.t0
            st.rss_samples.append(kib)
            if kib > st.rss_peak_kib:
                st.rss_peak_kib, st.rss_peak_at = kib, t
            out.write(f"{t:.1f}\t{kib}\t{fds}\n")
            out.flush()
            try:
                await asyncio.wait_for(done.wait(), 1.0)
            except asyncio.TimeoutError:
                pass


async def hupper(st, gw):
    while not st.soak_over():
        await asyncio.sleep(st.args.hup_interval)
        if st.soak_over() or gw.poll() is not None:
            return
        os.kill(gw.pid, signal.SIGHUP)
        st.hups += 1


def start_issuer(procs, a):
    return procs.start("jwks-issuer", [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                     "jwks_issuer.py"),
                                       "--port", str(a.issuer_port), "--jwks", a.jwks,
                                       "--log", os.path.join(a.work, "jwks-fetches.log")], a.issuer_port)


async def issuer_flapper(st, procs):
    a = st.args
    loop = asyncio.get_running_loop()
    while True:
        up_for = max(0.0, a.jwks_period - a.jwks_down)
        t_end = time.monotonic() + up_for
        while time.monotonic() < t_end and not st.soak_over():
            await asyncio.sleep(0.2)
        if st.soak_over():
            return
        procs.stop("jwks-issuer", signal.SIGKILL, wait=5)
        st.issuer_down = True
        st.issuer_cycles += 1
        t_down = time.monotonic()
        t_end = t_down + a.jwks_down
        while time.monotonic() < t_end and not st.soak_over():
            await asyncio.sleep(0.2)
        await loop.run_in_executor(None, start_issuer, procs, a)
        st.issuer_down = False
        st.issuer_down_total += time.monotonic() - t_down


def http_get(port, path, timeout=5):
    with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=timeout) as r:
        return r.status, r.read().decode()


def metrics(a):
    try:
        _, text = http_get(a.admin_port, "/metrics")
    except Exception as e:  # noqa: BLE001
        return {"error": str(e)}
    out = collections.Counter()
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, val = line.rpartition(" ")
        for key in ("authgate_config_reloads_total", "authgate_jwks_keys_available", "authgate_jwks_fetches_total",
                    "authgate_connections_active", "authgate_connections_total"):
            if name.startswith(key):
                try:
                    out[name] += float(val)
                except ValueError:
                    pass
    return out


# ---------------------------------------------------------------------------------------
# the run

async def soak(st, procs, tokens):
    a = st.args
    gw = procs.procs["authgate"]
    done = asyncio.Event()
    mon = asyncio.create_task(monitor(st, gw, done))
    res = {}

    # Warm-up: valid traffic only, then let pooled upstream connections expire.
    print(f"soak: warm-up {a.warmup}s of valid traffic", flush=True)
    until = time.monotonic() + a.warmup
    await asyncio.gather(*(valid_worker(st, 1000 + i, tokens, until) for i in range(a.valid_workers)))
    await asyncio.sleep(a.pool_idle + 1.5)
    res["fd_base"] = fd_count(gw.pid)
    res["rss_base_kib"] = rss_kib(gw.pid)
    print(f"soak: after warm-up: {res['fd_base']} fds, VmRSS {res['rss_base_kib'] / 1024:.1f} MiB; "
          f"soaking {a.duration}s", flush=True)

    st.soak_end = time.monotonic() + a.duration
    tasks = [asyncio.create_task(valid_worker(st, i, tokens, st.soak_end)) for i in range(a.valid_workers)]
    tasks.append(asyncio.create_task(hupper(st, gw)))
    tasks.append(asyncio.create_task(issuer_flapper(st, procs)))
    for kind, (fn, conc_attr, pause, _) in ATTACKS.items():
        if kind in a.skip:
            continue
        for _ in range(getattr(a, conc_attr)):
            tasks.append(asyncio.create_task(attack_loop(st, kind, fn, pause)))

    async def progress():
        while not st.soak_over():
            await asyncio.sleep(min(30, max(5, a.duration / 10)))
            left = max(0, st.soak_end - time.monotonic())
            print(f"soak: {left:5.0f}s left: valid ok {sum(st.valid.values())} failed {sum(st.valid_fail.values())}, "
                  f"VmRSS peak {st.rss_peak_kib / 1024:.1f} MiB, SIGHUPs {st.hups}, issuer cycles {st.issuer_cycles}",
                  flush=True)
    prog = asyncio.create_task(progress())

    # Every task stops by itself at soak_end (the slow attacks abort there); bound it anyway.
    _, pending = await asyncio.wait(tasks, timeout=a.duration + 60)
    for t in pending:
        t.cancel()
    res["tasks_cancelled"] = len(pending)
    for t in tasks:
        if t.done() and not t.cancelled() and t.exception() is not None:
            print(f"soak: task failed: {t.exception()!r}", file=sys.stderr)
            res.setdefault("task_errors", []).append(repr(t.exception()))
    prog.cancel()
    if procs.procs["jwks-issuer"].poll() is not None:
        await asyncio.get_running_loop().run_in_executor(None, start_issuer, procs, a)
        st.issuer_down = False

    # Settle: every attack connection is closed; wait (bounded) for the fds to come back.
    print(f"soak: soak over; settling (up to {a.settle}s)", flush=True)
    t_settle = time.monotonic()
    fd_end = None
    await asyncio.sleep(min(a.settle, a.pool_idle + 1.5))
    while gw.poll() is None:
        fd_end = fd_count(gw.pid)
        if fd_end <= res["fd_base"] + a.fd_slack or time.monotonic() - t_settle >= a.settle:
            break
        await asyncio.sleep(1)
    res["settle_s"] = time.monotonic() - t_settle
    res["fd_end"] = fd_end
    res["alive"] = gw.poll() is None
    if res["alive"]:
        res["rss_end_kib"] = rss_kib(gw.pid)
        res["metrics"] = await asyncio.get_running_loop().run_in_executor(None, metrics, a)
        try:
            res["readyz"] = (await asyncio.get_running_loop().run_in_executor(None, http_get, a.admin_port,
                                                                               "/readyz"))[0]
        except Exception as e:  # noqa: BLE001
            res["readyz"] = repr(e)
    try:
        res["canary_requests"] = json.loads(http_get(a.canary_port, "/__stats")[1])["requests"]
    except Exception as e:  # noqa: BLE001
        res["canary_requests"] = None
        res["canary_error"] = repr(e)
    done.set()
    await mon
    return res


def summarize(st, res, exit_codes):
    a = st.args
    fails, warns = [], []
    print()
    print("=" * 78)
    print(f"authgate soak summary ({a.duration}s soak, {a.valid_workers} valid workers)")
    print("=" * 78)
    ok = sum(st.valid.values())
    bad = sum(st.valid_fail.values())
    print(f"valid requests: {ok} ok, {bad} failed "
          f"({st.valid_ok_issuer_down} protected ones answered while the JWKS issuer was down)")
    for kind in sorted(st.valid):
        print(f"   {kind:<28} {st.valid[kind]:>8} ok")
    for reason, n in st.valid_fail.most_common():
        print(f"   FAILED {reason:<21} {n:>8}")
    for ex in st.valid_fail_examples:
        print(f"     e.g. {ex}")
    if bad:
        fails.append(f"{bad} valid requests failed")
    if ok == 0:
        fails.append("no valid request succeeded")

    print()
    print(f"attacks (outcome: count; expected outcomes marked *):")
    for kind, (_, _, _, expected) in ATTACKS.items():
        if kind in a.skip:
            continue
        c = st.attacks.get(kind, collections.Counter())
        parts = []
        for outcome, n in sorted(c.items(), key=lambda kv: -kv[1]):
            parts.append(f"{outcome}{'*' if outcome in expected else ''}: {n}")
        times = st.attack_times.get(kind) or []
        extra = ""
        if kind in ("slowloris_header", "trickled_body") and times:
            extra = f"  (time to outcome: max {max(times):.1f}s, mean {sum(times) / len(times):.1f}s)"
        if kind in ("huge_chunk_line", "endless_trailers") and st.attack_bytes.get(kind):
            b = st.attack_bytes[kind]
            extra = f"  (bytes sent per connection: max {max(b) / 1048576:.2f} MiB, mean {sum(b) / len(b) / 1048576:.2f} MiB)"
        print(f"   {kind:<22} {sum(c.values()):>6} attempts: {', '.join(parts) or '-'}{extra}")
        unexpected = {o: n for o, n in c.items() if o not in expected and o != "aborted_at_end"}
        if not unexpected:
            continue
        desc = ", ".join(f"{o} {n}" for o, n in unexpected.items())
        if kind == "trickled_body" and not a.request_body_timeout and set(unexpected) <= {"survived"}:
            warns.append(f"trickled_body: {desc} (server.timeouts.request_body is not supported by this binary, "
                         f"so nothing bounds a slow body but the idle timeout per read)")
        else:
            fails.append(f"{kind}: unexpected outcomes: {desc}")

    print()
    canary = res.get("canary_requests")
    if canary is None:
        fails.append(f"could not read the canary backend's /__stats: {res.get('canary_error')}")
    elif "smuggle_connection_cl" not in a.skip:
        smuggled = canary - st.smuggle_echoes
        print(f"smuggling canary: backend counted {canary} requests, the attack saw {st.smuggle_echoes} of them "
              f"answered -> {smuggled} smuggled past the gateway")
        for ex in st.smuggle_examples:
            print(f"     e.g. {ex}")
        if smuggled > 0:
            fails.append(f"{smuggled} smuggled requests reached the backend (Connection: Content-Length)")

    print()
    peak = st.rss_peak_kib / 1024
    print(f"gateway VmRSS: after warm-up {res.get('rss_base_kib', 0) / 1024:.1f} MiB, peak {peak:.1f} MiB "
          f"(at {st.rss_peak_at:.0f}s), at the end {res.get('rss_end_kib', 0) / 1024:.1f} MiB; "
          f"limit {a.rss_limit_mib} MiB")
    if peak > a.rss_limit_mib:
        fails.append(f"VmRSS peak {peak:.1f} MiB > {a.rss_limit_mib} MiB")
    fd_end = res.get("fd_end")
    print(f"gateway fds: after warm-up {res.get('fd_base')}, at the end {fd_end} "
          f"(slack {a.fd_slack}, settled {res.get('settle_s', 0):.0f}s)")
    if fd_end is None or fd_end > res.get("fd_base", 0) + a.fd_slack:
        fails.append(f"fd count grew: {res.get('fd_base')} -> {fd_end} (slack {a.fd_slack})")
    print(f"gateway alive at the end: {'yes' if res.get('alive') else 'NO'}"
          + (f" (exit status {st.gateway_dead})" if st.gateway_dead is not None else ""))
    if not res.get("alive"):
        fails.append("the gateway died")
    print(f"chaos: {st.hups} SIGHUPs, JWKS issuer down {st.issuer_cycles}x ({st.issuer_down_total:.0f}s in all)")
    m = res.get("metrics")
    if isinstance(m, dict) or isinstance(m, collections.Counter):
        interesting = {k: v for k, v in m.items() if "reloads" in k or "jwks" in k or "connections" in k}
        for k in sorted(interesting):
            print(f"   {k} {interesting[k]:g}")
    fetches = 0
    try:
        with open(os.path.join(a.work, "jwks-fetches.log")) as f:
            fetches = sum(1 for _ in f)
    except OSError:
        pass
    print(f"   JWKS fetches served by the issuer: {fetches}; /readyz at the end: {res.get('readyz')}")
    if isinstance(m, collections.Counter):
        failed_reloads = sum(v for k, v in m.items() if "reloads" in k and "failure" in k)
        if failed_reloads:
            warns.append(f"{failed_reloads:g} config reloads failed (same file every time)")
    code = exit_codes.get("authgate")
    print(f"gateway exit status after SIGTERM: {code}")
    if res.get("tasks_cancelled"):
        warns.append(f"{res['tasks_cancelled']} traffic tasks had to be cancelled at the bound")
    for e in res.get("task_errors", []):
        fails.append(f"traffic task crashed: {e}")

    print()
    for w in warns:
        print(f"WARN: {w}")
    for f in fails:
        print(f"FAIL: {f}")
    print("RESULT: " + ("PASS" if not fails else "FAIL"))
    return 0 if not fails else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--authgate", required=True)
    ap.add_argument("--backend", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--pidfile", required=True)
    ap.add_argument("--tokens", required=True, help="file of 'SUB TOKEN' lines")
    ap.add_argument("--jwks", required=True)
    for p in ("port", "admin-port", "backend-port", "canary-port", "issuer-port"):
        ap.add_argument("--" + p, type=int, required=True)
    ap.add_argument("--duration", type=float, default=600)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--settle", type=float, default=30)
    ap.add_argument("--rss-limit-mib", type=float, default=64)
    ap.add_argument("--fd-slack", type=int, default=4)
    ap.add_argument("--pool-idle", type=float, default=2, help="upstream pool.idle_timeout of the config (s)")
    ap.add_argument("--header-timeout", type=float, default=5)
    ap.add_argument("--request-body-timeout", type=float, default=0, help="0 = the binary has none")
    ap.add_argument("--hup-interval", type=float, default=2)
    ap.add_argument("--jwks-period", type=float, default=30)
    ap.add_argument("--jwks-down", type=float, default=5)
    ap.add_argument("--valid-workers", type=int, default=8)
    ap.add_argument("--valid-pace", type=float, default=0.005)
    ap.add_argument("--max-valid-per-worker", type=int, default=2_000_000)
    ap.add_argument("--max-attempts", type=int, default=200_000)
    ap.add_argument("--conc-framing", type=int, default=1)
    ap.add_argument("--conc-slow", type=int, default=4)
    ap.add_argument("--conc-flood", type=int, default=4)
    ap.add_argument("--flood-mib", type=int, default=8)
    ap.add_argument("--flood-hold", type=float, default=5)
    ap.add_argument("--slowloris-interval", type=float, default=1)
    ap.add_argument("--trickle-interval", type=float, default=3)
    ap.add_argument("--skip", default="", help="comma-separated attack kinds to leave out")
    a = ap.parse_args()
    a.skip = {s for s in a.skip.split(",") if s}
    a.slowloris_limit = max(20.0, 6 * a.header_timeout)
    a.trickle_limit = max(30.0, 4 * (a.request_body_timeout or 10))

    tokens = []
    with open(a.tokens) as f:
        for line in f:
            if line.strip():
                sub, tok = line.split()
                tokens.append((sub, tok))

    procs = Procs(a.pidfile, a.work)
    st = State(a)

    def on_term(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)

    res, rc = None, 2
    exit_codes = {}
    try:
        procs.start("backend", [a.backend, "--port", str(a.backend_port), "--threads", "2"], a.backend_port)
        procs.start("canary", [a.backend, "--port", str(a.canary_port)], a.canary_port)
        start_issuer(procs, a)
        procs.start("authgate", [a.authgate, "-c", a.config], a.port)
        deadline = time.monotonic() + 20
        while True:
            try:
                if http_get(a.admin_port, "/readyz", 2)[0] == 200:
                    break
            except Exception:  # noqa: BLE001
                pass
            if time.monotonic() > deadline or procs.procs["authgate"].poll() is not None:
                raise RuntimeError("the gateway did not become ready (/readyz 200) within 20s; see authgate.log")
            time.sleep(0.2)
        res = asyncio.run(soak(st, procs, tokens))
    except RuntimeError as e:
        print(f"soak: {e}", file=sys.stderr)
    finally:
        exit_codes = procs.stop_all()
    if res is not None:
        rc = summarize(st, res, exit_codes)
    return rc


if __name__ == "__main__":
    sys.exit(main())
