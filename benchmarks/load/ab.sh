#!/usr/bin/env bash
# A/B load benchmark: two authgate builds side by side in one run. Both get the same config
# (rendered from templates/, as run.sh does) on their own 127.0.0.1 port, ONE worker each,
# in front of ONE shared backend (nginx answering a static "ok"). Short wrk runs alternate
# between them (which build goes first flips every pair), so the machine's drift hits both.
# Per run: requests (wrk) and the gateway's CPU time (utime+stime, /proc/PID/stat) -> us CPU
# per request. Reports the new/old ratios: median of the per-pair ratios, pooled (sum CPU /
# sum requests), req/s. `--old X --new X` (same binary) is the control: expect ~1.00.
#
# Usage: benchmarks/load/ab.sh --old PATH --new PATH [--case proxy|hs256] [--pairs 15]
#          [--duration 2s] [--connections 50] [--warmup 2s] [--wait-load 1.5] [--wait-max 600]
#   --case proxy   public route, no auth (templates/authgate-proxy.yaml)
#   --case hs256   protected route, one HS256 token repeated (served from the token cache),
#                  sub forwarded as X-User-Id (templates/authgate-jwt.yaml, route /hs/)
#   --wait-load L  before measuring, wait (at most --wait-max s) for the 1-min load < L
# KEEP_WORK=1 keeps the temp dir (configs, wrk outputs, ab.tsv).
set -euo pipefail

OLD=""
NEW=""
CASE=proxy
PAIRS=15
DURATION=2s
CONNECTIONS=50
WARMUP=2s
WAIT_LOAD=""
WAIT_MAX=600
usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --old) OLD="$2"; shift 2 ;;
    --new) NEW="$2"; shift 2 ;;
    --case) CASE="$2"; shift 2 ;;
    --pairs) PAIRS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --wait-load) WAIT_LOAD="$2"; shift 2 ;;
    --wait-max) WAIT_MAX="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "ab.sh: unknown argument '$1'" >&2; usage 2 ;;
  esac
done
case "$CASE" in proxy|hs256) ;; *) echo "ab.sh: --case must be proxy|hs256" >&2; exit 2 ;; esac
[ -n "$OLD" ] && [ -n "$NEW" ] || { echo "ab.sh: --old PATH and --new PATH are required" >&2; usage 2; }
for b in "$OLD" "$NEW"; do [ -x "$b" ] || { echo "ab.sh: '$b' is not an executable" >&2; exit 2; }; done
OLD="$(realpath "$OLD")"; NEW="$(realpath "$NEW")"

seconds() {  # "2s" / "1m" / "2" -> seconds (for the bounding timeouts; wrk gets the string)
  case "$1" in *ms) echo 1 ;; *s) echo "${1%s}" ;; *m) echo $(( ${1%m} * 60 )) ;; *) echo "$1" ;; esac
}
DUR_S=$(seconds "$DURATION"); WARM_S=$(seconds "$WARMUP")
[[ "$DUR_S" =~ ^[0-9]+$ && "$WARM_S" =~ ^[0-9]+$ && "$CONNECTIONS" =~ ^[0-9]+$ && "$PAIRS" =~ ^[0-9]+$ &&
   "$PAIRS" -ge 1 && "$WAIT_MAX" =~ ^[0-9]+$ ]] ||
  { echo "ab.sh: bad --duration/--warmup/--connections/--pairs/--wait-max" >&2; exit 2; }

HERE="$(cd "$(dirname "$0")" && pwd)"
for tool in wrk nginx python3 openssl curl; do
  command -v "$tool" >/dev/null || PATH="$PATH:/usr/sbin:/sbin"
  command -v "$tool" >/dev/null || { echo "ab.sh: '$tool' not found (deploy/install-deps.sh bench)" >&2; exit 1; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/authgate-ab.XXXXXX")"
PIDS=()
NAMES=()
cleanup() {  # every process this script started, by PID: SIGTERM, bounded wait, SIGKILL
  local i pid n
  for (( i=${#PIDS[@]}-1; i>=0; i-- )); do kill -TERM "${PIDS[$i]}" 2>/dev/null || true; done
  for (( i=${#PIDS[@]}-1; i>=0; i-- )); do
    pid="${PIDS[$i]}"
    for (( n=0; n<50; n++ )); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "ab.sh: ${NAMES[$i]} (pid $pid) ignored SIGTERM, killing" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "${KEEP_WORK:-}" ]; then echo "ab.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
chmod 755 "$WORK"   # nginx workers drop to "nobody" when started as root
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user root;"

CLK_TCK=$(getconf CLK_TCK)
ISS="https://auth.bench.local"
AUD="bench-api"
HS_SECRET="$(openssl rand -hex 32)"
RESULTS="$WORK/ab.tsv"
: > "$RESULTS"

read -r BACKEND_PORT P_OLD P_NEW < <(python3 - <<'PY'
import socket
socks = []
for _ in range(3):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
)

# The same helpers as run.sh (kept in step by hand; run.sh is a driver, not a library).
render() {  # render TEMPLATE OUT KEY=VALUE...
  local tpl="$1" out="$2"; shift 2
  python3 - "$tpl" "$out" "$@" <<'PY'
import re, sys
tpl, out, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
text = open(tpl).read()
for p in pairs:
    k, v = p.split("=", 1)
    text = text.replace("@" + k + "@", v)
left = re.findall(r"@[A-Z_]+@", text)
if left:
    sys.exit(f"render {tpl}: no value for {sorted(set(left))}")
open(out, "w").write(text)
PY
}
start() {  # start NAME PORT CMD...: background, PID recorded, bounded wait (10 s) for PORT
  local name="$1" port="$2"; shift 2
  "$@" >"$WORK/$name.log" 2>&1 &
  local pid=$! n
  PIDS+=("$pid"); NAMES+=("$name")
  eval "PID_${name//-/_}=$pid"
  for (( n=0; n<100; n++ )); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "ab.sh: $name exited during start-up:" >&2; tail -20 "$WORK/$name.log" >&2; exit 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "ab.sh: $name not listening on 127.0.0.1:$port after 10 s" >&2; tail -20 "$WORK/$name.log" >&2; exit 1
}
pid_of() { local v="PID_${1//-/_}"; echo "${!v}"; }
ticks_of() {  # utime+stime clock ticks (all threads) of a process and its direct children
  local root="$1" total=0 p s f
  for p in "$root" $(pgrep -P "$root" || true); do
    s="$(cat "/proc/$p/stat" 2>/dev/null)" || continue
    s="${s##*) }"
    read -r -a f <<< "$s"
    total=$(( total + f[11] + f[12] ))
  done
  echo "$total"
}
check() {  # check LABEL EXPECT_STATUS CURL_ARGS...
  local label="$1" want="$2"; shift 2
  local got
  got=$(curl -s -o "$WORK/check.body" -D "$WORK/check.headers" -w '%{http_code}' --max-time 5 "$@" || true)
  if [ "$got" != "$want" ]; then
    echo "ab.sh: sanity check '$label' expected $want, got $got" >&2
    cat "$WORK/check.headers" "$WORK/check.body" >&2 2>/dev/null || true
    exit 1
  fi
}
header_is() {
  local v
  v=$(tr -d '\r' < "$WORK/check.headers" | awk -v n="$(echo "$1" | tr 'A-Z' 'a-z')" -F': ' 'tolower($1)==n {print $2}' | tail -1)
  [ "$v" = "$2" ] || { echo "ab.sh: expected response header '$1: $2', got '$v'" >&2; exit 1; }
}
load1() { cut -d' ' -f1 /proc/loadavg; }

echo "== A/B: case $CASE, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs"
echo "   old: $OLD"
echo "   new: $NEW"
[ "$OLD" = "$NEW" ] && echo "   (same binary on both sides: control run, expect ratios ~1.00)"
echo "   $PAIRS pairs of wrk -t1 -c$CONNECTIONS -d$DURATION, order alternating; warm-up $WARMUP each; one worker each"
echo "   backend: nginx, 1 worker, 'return 200 ok' (port $BACKEND_PORT); work dir $WORK; load only on 127.0.0.1"

# ---- backend and the two gateways ------------------------------------------------------
mkdir -p "$WORK/backend-nginx-tmp"
render "$HERE/templates/backend-nginx.conf" "$WORK/backend-nginx.conf" DIR="$WORK" BACKEND_PORT="$BACKEND_PORT" \
  USER_LINE="$USER_LINE"
start backend "$BACKEND_PORT" nginx -p "$WORK" -e "$WORK/backend-nginx.startup.log" -c "$WORK/backend-nginx.conf"
check "backend answers" 200 "http://127.0.0.1:$BACKEND_PORT/"

WRK_HDR=()
if [ "$CASE" = hs256 ]; then
  # The template has an RS256 provider too; it needs a key file but is not loaded here.
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/rs-private.pem" 2>/dev/null
  openssl pkey -in "$WORK/rs-private.pem" -pubout -out "$WORK/rs-public.pem"
  PATH_URL=/hs/x
  TOKEN=$("$NEW" token --alg HS256 --secret "$HS_SECRET" --iss "$ISS" --aud "$AUD" --sub bench-user --ttl 2h)
  WRK_HDR=(-H "Authorization: Bearer $TOKEN")
else
  PATH_URL=/x
fi
for side in old new; do
  bin="$OLD"; port="$P_OLD"; [ "$side" = new ] && { bin="$NEW"; port="$P_NEW"; }
  if [ "$CASE" = hs256 ]; then
    render "$HERE/templates/authgate-jwt.yaml" "$WORK/authgate-$side.yaml" BACKEND_PORT="$BACKEND_PORT" PORT="$port" \
      HS_SECRET="$HS_SECRET" RS_PUBKEY="$WORK/rs-public.pem" ISS="$ISS" AUD="$AUD"
  else
    render "$HERE/templates/authgate-proxy.yaml" "$WORK/authgate-$side.yaml" BACKEND_PORT="$BACKEND_PORT" PORT="$port"
  fi
  "$bin" -c "$WORK/authgate-$side.yaml" --check >/dev/null
  start "authgate-$side" "$port" "$bin" -c "$WORK/authgate-$side.yaml"
  if [ "$CASE" = hs256 ]; then
    check "$side HS256 good" 200 "${WRK_HDR[@]}" "http://127.0.0.1:$port$PATH_URL"; header_is X-Seen-User bench-user
    check "$side HS256 no token" 401 "http://127.0.0.1:$port$PATH_URL"
  else
    check "$side proxy" 200 "http://127.0.0.1:$port$PATH_URL"
  fi
done
# The configs differ only in the listen port.
diff <(sed "s/$P_OLD/PORT/" "$WORK/authgate-old.yaml") <(sed "s/$P_NEW/PORT/" "$WORK/authgate-new.yaml") >/dev/null ||
  { echo "ab.sh: the two configs differ" >&2; exit 1; }

run_wrk() {  # run_wrk PORT DURATION OUT: bounded by timeout
  local port="$1" d="$2" o="$3"
  timeout -k 5 $(( $(seconds "$d") + 30 )) wrk -t1 -c"$CONNECTIONS" --timeout 5s -d"$d" "${WRK_HDR[@]}" \
    "http://127.0.0.1:$port$PATH_URL" > "$o" 2>&1
}
# measure SIDE PAIR POSITION: one measured wrk run against that side; appends a TSV row.
measure() {
  local side="$1" pair="$2" pos="$3" port="$P_OLD" pid t0 t1 l0 l1 out
  [ "$side" = new ] && port="$P_NEW"
  pid=$(pid_of "authgate-$side")
  out="$WORK/wrk-$side-$pair.out"
  l0=$(load1); t0=$(ticks_of "$pid")
  run_wrk "$port" "$DURATION" "$out" || { echo "ab.sh: wrk failed:" >&2; cat "$out" >&2; exit 1; }
  t1=$(ticks_of "$pid"); l1=$(load1)
  kill -0 "$pid" 2>/dev/null || { echo "ab.sh: authgate-$side died" >&2; tail -20 "$WORK/authgate-$side.log" >&2; exit 1; }
  local reqs rps non2xx sockerr
  reqs=$(awk '/requests in/ {print $1}' "$out")
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out"); non2xx=${non2xx:-0}
  sockerr=$(awk '/Socket errors:/ {gsub(",", ""); print $4+$6+$8+$10}' "$out"); sockerr=${sockerr:-0}
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$side" "$pair" "$pos" "$reqs" "$rps" "$((t1 - t0))" \
    "$CLK_TCK" "$non2xx" "$sockerr" "$l0" "$l1" >> "$RESULTS"
  printf '   pair %2d  %-3s %-6s %9s req/s  cpu %6.1f us/req  non-2xx %s  errors %s  load %s -> %s\n' \
    "$pair" "$side" "($pos)" "$rps" "$(python3 -c "print(($t1-$t0)*1e6/$CLK_TCK/max(1,$reqs))")" \
    "$non2xx" "$sockerr" "$l0" "$l1"
}

# Warm-up (connections, upstream pools, token cache), unmeasured, both sides.
if [ "$WARM_S" -gt 0 ]; then
  run_wrk "$P_OLD" "$WARMUP" "$WORK/warm-old.out" || true
  run_wrk "$P_NEW" "$WARMUP" "$WORK/warm-new.out" || true
fi

if [ -n "$WAIT_LOAD" ]; then
  echo "   waiting (at most $WAIT_MAX s) for the 1-min load average < $WAIT_LOAD (now $(load1))"
  waited=0
  while python3 -c "import sys; sys.exit(0 if float('$(load1)') >= float('$WAIT_LOAD') else 1)"; do
    if [ "$waited" -ge "$WAIT_MAX" ]; then echo "   load still $(load1) after $WAIT_MAX s: measuring anyway"; break; fi
    sleep 10; waited=$((waited + 10))
  done
  echo "   waited $waited s"
fi

LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "   load average at start: $LOAD_START"
for (( p=1; p<=PAIRS; p++ )); do
  if (( p % 2 == 1 )); then measure old "$p" first; measure new "$p" second
  else measure new "$p" first; measure old "$p" second; fi
done
LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "   load average at end: $LOAD_END"

echo
python3 - "$RESULTS" "$CASE" "$LOAD_START" "$LOAD_END" <<'PY'
import statistics, sys
path, case, load_start, load_end = sys.argv[1:5]
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
runs = {}
for side, pair, pos, reqs, rps, ticks, hz, non2xx, errs, l0, l1 in rows:
    runs[(side, int(pair))] = dict(reqs=int(reqs), rps=float(rps), cpu=int(ticks) / int(hz),
                                   bad=int(non2xx) + int(errs), pos=pos)
pairs = sorted({p for _, p in runs})
invalid = [k for k, d in runs.items() if d["bad"]]
us = lambda d: d["cpu"] * 1e6 / max(1, d["reqs"])
cpu_r = [us(runs[("new", p)]) / us(runs[("old", p)]) for p in pairs]
rps_r = [runs[("new", p)]["rps"] / runs[("old", p)]["rps"] for p in pairs]
tot = {s: (sum(runs[(s, p)]["cpu"] for p in pairs), sum(runs[(s, p)]["reqs"] for p in pairs)) for s in ("old", "new")}
us_pooled = {s: tot[s][0] * 1e6 / max(1, tot[s][1]) for s in tot}
pooled = us_pooled["new"] / us_pooled["old"]
# Ratios by which side ran first, to see an order effect.
first_new = [r for p, r in zip(pairs, cpu_r) if runs[("new", p)]["pos"] == "first"]
first_old = [r for p, r in zip(pairs, cpu_r) if runs[("old", p)]["pos"] == "first"]
s = sorted(cpu_r)
n = len(s)
# Distribution-free ~95% interval for the median: order statistics k and n+1-k with
# P(Binomial(n, 1/2) < k) <= 2.5% (for 15 pairs: the 4th and 12th smallest ratios).
from math import comb
k, acc = 0, 0.0
while k < n and acc + comb(n, k) / 2 ** n <= 0.025:
    acc += comb(n, k) / 2 ** n; k += 1
ci = (s[k - 1], s[n - k]) if k >= 1 else (s[0], s[-1])
print(f"A/B {case}: new/old over {n} pairs (CPU = utime+stime of the gateway / requests completed)")
print(f"  CPU us/req ratio   median {statistics.median(cpu_r):.3f}  pooled {pooled:.3f}  "
      f"~95% CI of median [{ci[0]:.3f}, {ci[1]:.3f}]  range [{s[0]:.3f}, {s[-1]:.3f}]")
print(f"  by order           old first: median {statistics.median(first_old):.3f} ({len(first_old)})  "
      f"new first: median {statistics.median(first_new):.3f} ({len(first_new)})" if first_new and first_old else "")
print(f"  req/s ratio        median {statistics.median(rps_r):.3f}  pooled {tot['new'][1] / max(1, tot['old'][1]):.3f}")
print(f"  CPU us/req pooled  old {us_pooled['old']:.1f}  new {us_pooled['new']:.1f}   "
      f"req/s mean  old {statistics.mean(runs[('old', p)]['rps'] for p in pairs):.0f}  "
      f"new {statistics.mean(runs[('new', p)]['rps'] for p in pairs):.0f}")
print(f"  per-pair CPU ratios {', '.join(f'{r:.3f}' for r in cpu_r)}")
print(f"  load average (1/5/15 min) at start {load_start}, at end {load_end}")
if invalid:
    print(f"  INVALID: non-2xx responses or socket errors in {sorted(invalid)}")
    sys.exit(1)
PY
