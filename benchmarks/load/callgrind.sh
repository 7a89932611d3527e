#!/usr/bin/env bash
# Instructions per request: authgate (ONE worker, access log off) under
# `valgrind --tool=callgrind`, in front of the load benchmark's nginx backend ("ok"), driven
# by a fixed-count keep-alive client on 127.0.0.1. Start-up and a warm-up are excluded: after
# the warm-up the client lets the gateway go idle and zeroes the counters
# (`callgrind_control --zero`), sends exactly N requests, lets it go idle again and dumps
# (`callgrind_control --dump`). Reports Ir of that window / N (user-space instructions of all
# the gateway's threads, libraries included; the kernel's work is not counted) and, from the
# same dump, the libc system-call wrappers called per request (recvmsg, sendmsg, epoll_wait...).
# Every response must be 2xx (the client fails on anything else, a closed connection, a stall).
# Not exact to the instruction: how often a speculative read finds no data yet depends on
# scheduling, so runs differ by 0.1-0.6%; the backend and the client run at nice -10 (when
# allowed: root) so they usually answer before the gateway looks again. Compare with --repeat 3.
#
# Usage: benchmarks/load/callgrind.sh --bin PATH | --compare OLD NEW
#          [--case proxy|hs256] [--requests 20000] [--connections 10] [--warmup 2000]
#          [--repeat 1] [--top 0] [--peer-nice -10]
#   --case proxy   public route, no auth (templates/authgate-proxy.yaml)
#   --case hs256   route /hs/, one HS256 token (gen_tokens.py) repeated, so every measured
#                  request is served from the verified-token cache (templates/authgate-jwt.yaml)
#   --repeat R     measure R times (a fresh gateway each time); --compare alternates the order
#   --top N        also print the N functions with the most instructions per request
#                  (self cost; with --compare: the N largest differences new - old)
#   --peer-nice N  niceness of the backend and the client (0: same priority as everything else)
# KEEP_WORK=1 keeps the temp dir (configs, callgrind dumps: callgrind_annotate them).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$HERE/lib.sh"
STOP_WAIT_S=30       # valgrind writes its final dump after SIGTERM
CHECK_MAX_TIME=30    # the gateway runs under valgrind

BIN=""
OLD=""
NEW=""
CASE=proxy
REQUESTS=20000
CONNECTIONS=10
WARMUP=2000
REPEAT=1
TOP=0
PEER_NICE=-10
usage() { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) BIN="$2"; shift 2 ;;
    --compare) OLD="$2"; NEW="$3"; shift 3 ;;
    --case) CASE="$2"; shift 2 ;;
    --requests) REQUESTS="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --repeat) REPEAT="$2"; shift 2 ;;
    --top) TOP="$2"; shift 2 ;;
    --peer-nice) PEER_NICE="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "callgrind.sh: unknown argument '$1'" >&2; usage 2 ;;
  esac
done
case "$CASE" in proxy|hs256) ;; *) echo "callgrind.sh: --case must be proxy|hs256" >&2; exit 2 ;; esac
[[ "$REQUESTS" =~ ^[1-9][0-9]*$ && "$CONNECTIONS" =~ ^[1-9][0-9]*$ && "$WARMUP" =~ ^[0-9]+$ &&
   "$REPEAT" =~ ^[1-9][0-9]*$ && "$TOP" =~ ^[0-9]+$ && "$PEER_NICE" =~ ^-?[0-9]+$ ]] ||
  { echo "callgrind.sh: bad --requests/--connections/--warmup/--repeat/--top/--peer-nice" >&2; exit 2; }
if [ -n "$BIN" ] && [ -n "$OLD" ]; then echo "callgrind.sh: --bin and --compare exclude each other" >&2; exit 2; fi
[ -n "$BIN" ] || [ -n "$OLD" ] || { echo "callgrind.sh: --bin PATH or --compare OLD NEW is required" >&2; usage 2; }
for b in $BIN $OLD $NEW; do [ -x "$b" ] || { echo "callgrind.sh: '$b' is not an executable" >&2; exit 2; }; done
[ -n "$BIN" ] && BIN="$(realpath "$BIN")"
[ -n "$OLD" ] && { OLD="$(realpath "$OLD")"; NEW="$(realpath "$NEW")"; }

need_tools "deploy/install-deps.sh bench; apt-get install valgrind" valgrind callgrind_control nginx python3 openssl curl

setup_work callgrind

# The peers' priority: only if this user may set it (nice -n -10 without root just warns).
PEER=()
if [ "$PEER_NICE" != 0 ]; then
  if [ "$(nice -n "$PEER_NICE" nice 2>/dev/null)" = "$(( $(nice) + PEER_NICE ))" ]; then
    PEER=(nice -n "$PEER_NICE")
  else
    echo "callgrind.sh: cannot run the peers at nice $PEER_NICE (not root?): expect more run-to-run spread" >&2
  fi
fi

HS_SECRET="$(openssl rand -hex 32)"
RESULTS="$WORK/callgrind.tsv"
: > "$RESULTS"

echo "== callgrind: case $CASE, $(date -u '+%Y-%m-%d %H:%M UTC'), $(valgrind --version)"
if [ -n "$BIN" ]; then echo "   bin: $BIN"; else echo "   old: $OLD"; echo "   new: $NEW"; fi
echo "   $REQUESTS measured requests after $WARMUP warm-up requests, $CONNECTIONS keep-alive connections,"
echo "   ONE gateway worker, access log off; backend and client at nice ${PEER[2]:-0}; $REPEAT repeat(s)"
echo "   work dir $WORK; load only on 127.0.0.1"

# ---- backend (native, shared by every measurement) --------------------------------------
read -r BACKEND_PORT < <(free_ports 1)
start_backend "$BACKEND_PORT" "${PEER[@]}"

TOKEN=""
PATH_URL=/x
if [ "$CASE" = hs256 ]; then
  # The template has an RS256 provider too; it needs a key file but is not used here.
  rsa_keypair
  gen_tokens HS256 1 "$WORK/hs-token.txt" >/dev/null
  TOKEN=$(head -1 "$WORK/hs-token.txt")
  PATH_URL=/hs/x
fi

# measure LABEL BIN RUN: one fresh gateway under callgrind; appends "label run Ir requests".
measure() {
  local label="$1" bin="$2" run="$3" port cfg pid out
  read -r port < <(free_ports 1)
  cfg="$WORK/authgate-$label-$run.yaml"
  render_gateway "$CASE" "$cfg" "$port" "$BACKEND_PORT"
  "$bin" -c "$cfg" --check >/dev/null
  out="$WORK/cg-$label-$run"
  # --vgdb-prefix keeps valgrind's control pipes in $WORK (callgrind_control talks through them).
  start "authgate-$label-$run" "$port" 120 valgrind --tool=callgrind --vgdb=yes --vgdb-prefix="$WORK/vgdb" \
    --callgrind-out-file="$out.%p" "$bin" -c "$cfg"
  pid=$STARTED_PID
  if [ "$CASE" = hs256 ]; then
    check "$label HS256 no token" 401 "http://127.0.0.1:$port$PATH_URL"
    check "$label HS256 good" 200 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port$PATH_URL"
    header_is X-Seen-User user-0
  else
    check "$label proxy" 200 "http://127.0.0.1:$port$PATH_URL"
  fi
  "${PEER[@]}" python3 - "$port" "$PATH_URL" "$TOKEN" "$CONNECTIONS" "$WARMUP" "$REQUESTS" \
      "callgrind_control --vgdb-prefix=$WORK/vgdb --zero $pid" \
      "callgrind_control --vgdb-prefix=$WORK/vgdb --dump=measured $pid" > "$WORK/client-$label-$run.out" <<'PY' ||
# Fixed-count HTTP/1.1 keep-alive client: C connections, one request in flight on each.
import collections, selectors, shlex, socket, subprocess, sys, time
port, path, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
nconn, warm, n = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
zero_cmd, dump_cmd = sys.argv[7], sys.argv[8]
STALL = 60       # seconds without any response: fail
SETTLE = 0.3     # let the gateway finish the last requests' work and go idle

def fail(msg):
    print(f"client: {msg}", file=sys.stderr); sys.exit(1)

req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: callgrind.sh\r\n"
if token:
    req += f"Authorization: Bearer {token}\r\n"
req = (req + "\r\n").encode()

def parse(buf):
    """(bytes consumed, status) of the first complete response in buf, or None."""
    i = buf.find(b"\r\n\r\n")
    if i < 0:
        return None
    lines = buf[:i].decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length, chunked = None, False
    for h in lines[1:]:
        k, _, v = h.partition(":")
        k = k.strip().lower()
        if k == "content-length":
            length = int(v)
        elif k == "transfer-encoding" and "chunked" in v.lower():
            chunked = True
    pos = i + 4
    if chunked:
        while True:
            j = buf.find(b"\r\n", pos)
            if j < 0:
                return None
            size = int(buf[pos:j].split(b";")[0], 16)
            pos = j + 2
            if size == 0:
                if buf[pos:pos + 2] == b"\r\n":
                    return pos + 2, status
                k = buf.find(b"\r\n\r\n", pos)
                return None if k < 0 else (k + 4, status)
            if len(buf) < pos + size + 2:
                return None
            pos += size + 2
    if length is None:
        if status in (204, 304) or status < 200:
            length = 0
        else:
            fail(f"response {status} without Content-Length or chunked framing")
    return (pos + length, status) if len(buf) >= pos + length else None

sel = selectors.DefaultSelector()
conns = []
for _ in range(nconn):
    s = socket.create_connection(("127.0.0.1", port), timeout=STALL)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c = {"sock": s, "buf": b""}
    conns.append(c)
    sel.register(s, selectors.EVENT_READ, c)

def phase(count):
    statuses = collections.Counter()
    sent = done = 0
    for c in conns[:min(nconn, count)]:
        c["sock"].sendall(req); sent += 1
    while done < count:
        events = sel.select(timeout=STALL)
        if not events:
            fail(f"no response for {STALL} s ({done} of {count} done)")
        for key, _ in events:
            c = key.data
            data = c["sock"].recv(65536)
            if not data:
                fail(f"the gateway closed a connection ({done} of {count} done)")
            c["buf"] += data
            while True:
                r = parse(c["buf"])
                if r is None:
                    break
                used, status = r
                c["buf"] = c["buf"][used:]
                done += 1
                statuses[status] += 1
                if sent < count:
                    c["sock"].sendall(req); sent += 1
    if any(c["buf"] for c in conns):
        fail("unexpected bytes after the last response")
    return statuses

def control(cmd):
    r = subprocess.run(shlex.split(cmd), capture_output=True, text=True, timeout=120)
    if r.returncode != 0 or "OK" not in r.stdout:
        fail(f"'{cmd}' failed: {r.stdout.strip()} {r.stderr.strip()}")

warm_st = phase(warm) if warm else collections.Counter()
time.sleep(SETTLE)
control(zero_cmd)
t0 = time.monotonic()
st = phase(n)
t1 = time.monotonic()
time.sleep(SETTLE)
control(dump_cmd)
for c in conns:
    sel.unregister(c["sock"]); c["sock"].close()
non2xx = sum(v for k, v in st.items() if not 200 <= k < 300)
non2xx_warm = sum(v for k, v in warm_st.items() if not 200 <= k < 300)
print(f"requests {sum(st.values())} non2xx {non2xx} warm_non2xx {non2xx_warm} seconds {t1 - t0:.2f} "
      f"statuses {dict(st)}")
sys.exit(1 if non2xx or non2xx_warm else 0)
PY
    { echo "callgrind.sh: client failed ($label run $run):" >&2; cat "$WORK/client-$label-$run.out" >&2; exit 1; }
  kill -0 "$pid" 2>/dev/null || { echo "callgrind.sh: authgate-$label-$run died" >&2; tail -20 "$WORK/authgate-$label-$run.log" >&2; exit 1; }
  stop "$pid" "authgate-$label-$run"
  local dump="$out.$pid.1" reqs secs ir tot
  [ -s "$dump" ] || { echo "callgrind.sh: no callgrind dump $dump" >&2; ls "$WORK" >&2; exit 1; }
  grep -q '^desc: Trigger: dump measured' "$dump" || { echo "callgrind.sh: $dump is not the measured dump" >&2; exit 1; }
  # summary: the events callgrind counted between --zero and --dump (the measured window);
  # totals: the sum of the dump's cost lines (can exceed it slightly: frames active at --zero).
  ir=$(awk '/^summary:/ {print $2}' "$dump")
  tot=$(awk '/^totals:/ {print $2}' "$dump")
  reqs=$(awk '{print $2}' "$WORK/client-$label-$run.out")
  secs=$(awk '{print $8}' "$WORK/client-$label-$run.out")
  [ "$reqs" = "$REQUESTS" ] || { echo "callgrind.sh: client completed $reqs of $REQUESTS" >&2; exit 1; }
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$run" "$ir" "$reqs" "$dump" "$tot" >> "$RESULTS"
  printf '   %-4s run %d: %12s Ir / %d requests = %9.1f Ir/request  (dump totals %.1f; %s s, %.0f req/s, all 2xx)\n' \
    "$label" "$run" "$ir" "$reqs" "$(python3 -c "print($ir/$reqs)")" "$(python3 -c "print($tot/$reqs)")" "$secs" \
    "$(python3 -c "print($reqs/max($secs,0.01))")"
}

for (( r=1; r<=REPEAT; r++ )); do
  if [ -n "$BIN" ]; then measure bin "$BIN" "$r"
  elif (( r % 2 == 1 )); then measure old "$OLD" "$r"; measure new "$NEW" "$r"
  else measure new "$NEW" "$r"; measure old "$OLD" "$r"; fi
done

echo
python3 - "$RESULTS" "$CASE" "$TOP" <<'PY'
import re, statistics, sys
path, case, top = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
per, dumps = {}, {}
for label, run, ir, reqs, dump, tot in rows:
    per.setdefault(label, []).append(int(ir) / int(reqs))
    dumps.setdefault(label, []).append((dump, int(reqs)))

def parse(path):
    """(function -> self Ir, callee -> calls) of one callgrind dump: name compression
    resolved, the inclusive cost line after each calls= line not counted as self cost."""
    names, costs, calls, fn, cfn, skip = {}, {}, {}, "?", "?", False
    for line in open(path, errors="replace"):
        c = line[:1]
        if c.isdigit() or c in "+-*":
            if skip:
                skip = False
                continue
            parts = line.split()
            if len(parts) >= 2:
                costs[fn] = costs.get(fn, 0) + int(parts[1])
        elif line.startswith(("fn=", "cfn=")):
            name = line.split("=", 1)[1].rstrip("\n")
            m = re.match(r"\((\d+)\)(?: (.*))?$", name)
            if m:
                if m.group(2) is not None:
                    names[m.group(1)] = m.group(2)
                name = names.get(m.group(1), "?")
            if c == "f":
                fn = name
            else:
                cfn = name
        elif line.startswith("calls="):
            calls[cfn] = calls.get(cfn, 0) + int(line[6:].split()[0])
            skip = True
    return costs, calls

def averaged(label):
    """(function -> self Ir/request, callee -> calls/request), averaged over the label's runs."""
    costs, calls = {}, {}
    for dump, reqs in dumps[label]:
        a, b = parse(dump)
        for d, src in ((costs, a), (calls, b)):
            for k, v in src.items():
                d[k] = d.get(k, 0) + v / reqs / len(dumps[label])
    return costs, calls

# libc wrappers of the system calls a request can make (the kernel's cost is not in Ir).
SYSCALLS = re.compile(r"^(?:__libc_)?(recv|recvmsg|recvfrom|send|sendmsg|sendto|read|readv|write|writev|"
                      r"epoll_wait|epoll_pwait|epoll_ctl|accept4?|close|socket|connect|setsockopt|"
                      r"getsockopt|ioctl|fcntl64|fcntl|timerfd_settime|eventfd_write|getsockname|"
                      r"getpeername|shutdown|poll|sched_yield|syscall|futex_wait|futex_wake)$")
stats = {label: averaged(label) for label in per}

def line(label, v):
    m = statistics.mean(v)
    spread = (max(v) - min(v)) / m * 100
    return (f"  {label:<4} Ir/request  mean {m:10.1f}  min {min(v):10.1f}  max {max(v):10.1f}  "
            f"spread (max-min)/mean {spread:.2f}%  ({len(v)} run(s))")

def syscalls(label):
    calls = stats[label][1]
    sc = sorted(((k, v) for k, v in calls.items() if SYSCALLS.match(k) and v >= 0.001), key=lambda kv: -kv[1])
    return (f"  {label:<4} syscall wrappers/request  total {sum(v for _, v in sc):.3f}: "
            + ", ".join(f"{k} {v:.3f}" for k, v in sc))

print(f"callgrind {case}: user-space instructions per request (measured window only)")
for label in per:
    print(line(label, per[label]))
if "old" in per and "new" in per:
    ratio = statistics.mean(per["new"]) / statistics.mean(per["old"])
    print(f"  new/old ratio {ratio:.4f}  ({(ratio - 1) * 100:+.2f}%)")
for label in per:
    print(syscalls(label))

if top:
    if "bin" in per:
        c = stats["bin"][0]
        print(f"\n  top {top} functions, self Ir/request:")
        for fn, v in sorted(c.items(), key=lambda kv: -kv[1])[:top]:
            print(f"    {v:9.1f}  {fn[:150]}")
    else:
        o, n = stats["old"][0], stats["new"][0]
        print(f"\n  top {top} differences, self Ir/request (old -> new, new - old):")
        for fn in sorted(set(o) | set(n), key=lambda k: -abs(n.get(k, 0) - o.get(k, 0)))[:top]:
            a, b = o.get(fn, 0), n.get(fn, 0)
            print(f"    {a:9.1f} -> {b:9.1f}  {b - a:+9.1f}  {fn[:130]}")
PY
