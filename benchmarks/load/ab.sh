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
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$HERE/lib.sh"

OLD=""
NEW=""
CASE=proxy
PAIRS=15
DURATION=2s
CONNECTIONS=50
WARMUP=2s
WAIT_LOAD=""
WAIT_MAX=600
usage() { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit "${1:-0}"; }
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

DUR_S=$(seconds "$DURATION"); WARM_S=$(seconds "$WARMUP")
[[ "$DUR_S" =~ ^[0-9]+$ && "$WARM_S" =~ ^[0-9]+$ && "$CONNECTIONS" =~ ^[0-9]+$ && "$PAIRS" =~ ^[0-9]+$ &&
   "$PAIRS" -ge 1 && "$WAIT_MAX" =~ ^[0-9]+$ ]] ||
  { echo "ab.sh: bad --duration/--warmup/--connections/--pairs/--wait-max" >&2; exit 2; }

need_tools "deploy/install-deps.sh bench" wrk nginx python3 openssl curl

setup_work ab

HS_SECRET="$(openssl rand -hex 32)"
RESULTS="$WORK/ab.tsv"
: > "$RESULTS"

read -r BACKEND_PORT P_OLD P_NEW < <(free_ports 3)

echo "== A/B: case $CASE, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs"
echo "   old: $OLD"
echo "   new: $NEW"
[ "$OLD" = "$NEW" ] && echo "   (same binary on both sides: control run, expect ratios ~1.00)"
echo "   $PAIRS pairs of wrk -t1 -c$CONNECTIONS -d$DURATION, order alternating; warm-up $WARMUP each; one worker each"
echo "   backend: nginx, 1 worker, 'return 200 ok' (port $BACKEND_PORT); work dir $WORK; load only on 127.0.0.1"

# ---- backend and the two gateways ------------------------------------------------------
start_backend "$BACKEND_PORT"

WRK_HDR=()
if [ "$CASE" = hs256 ]; then
  # The template has an RS256 provider too; it needs a key file but is not loaded here.
  rsa_keypair
  PATH_URL=/hs/x
  TOKEN=$("$NEW" token --alg HS256 --secret "$HS_SECRET" --iss "$ISS" --aud "$AUD" --sub bench-user --ttl 2h)
  WRK_HDR=(-H "Authorization: Bearer $TOKEN")
else
  PATH_URL=/x
fi
for side in old new; do
  bin="$OLD"; port="$P_OLD"; [ "$side" = new ] && { bin="$NEW"; port="$P_NEW"; }
  render_gateway "$CASE" "$WORK/authgate-$side.yaml" "$port" "$BACKEND_PORT"
  "$bin" -c "$WORK/authgate-$side.yaml" --check >/dev/null
  start "authgate-$side" "$port" 10 "$bin" -c "$WORK/authgate-$side.yaml"
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
  parse_wrk "$out"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$side" "$pair" "$pos" "$WRK_REQS" "$WRK_RPS" "$((t1 - t0))" \
    "$CLK_TCK" "$WRK_NON2XX" "$WRK_SOCKERR" "$l0" "$l1" >> "$RESULTS"
  printf '   pair %2d  %-3s %-6s %9s req/s  cpu %6.1f us/req  non-2xx %s  errors %s  load %s -> %s\n' \
    "$pair" "$side" "($pos)" "$WRK_RPS" "$(us_per_req $((t1 - t0)) "$WRK_REQS")" "$WRK_NON2XX" "$WRK_SOCKERR" "$l0" "$l1"
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
