# shellcheck shell=bash
# Helpers shared by the load benchmark's drivers (run.sh, ab.sh, callgrind.sh), sourced
# after `set -euo pipefail`:  HERE="$(cd "$(dirname "$0")" && pwd)"; . "$HERE/lib.sh"
#
# The rules every driver keeps, enforced here: each process is started by `start` (PID
# recorded, bounded wait for its port) and stopped by PID (`stop`, or `cleanup` on exit:
# SIGTERM, bounded wait, SIGKILL); each wait is bounded; everything listens on and is
# loaded on 127.0.0.1 only. Messages start with the driver's name ($PROG).
#
# Globals a driver may set after sourcing: STOP_WAIT_S (how long a process gets to exit
# after SIGTERM, default 5 s), CHECK_MAX_TIME (curl --max-time of `check`, default 5 s).
# Globals set here: PROG, CLK_TCK, ISS, AUD; by setup_work: WORK, PIDS, NAMES, USER_LINE; by start:
# STARTED_PID and PID_<name>; by parse_wrk: WRK_REQS, WRK_RPS, WRK_P50, WRK_P99, WRK_NON2XX,
# WRK_SOCKERR. Functions that use $HERE (the drivers' directory) or $HS_SECRET expect the
# driver to have set them.
# shellcheck disable=SC2034  # variables used by the drivers that source this file

PROG="${0##*/}"
STOP_WAIT_S=5
CHECK_MAX_TIME=5
CLK_TCK=$(getconf CLK_TCK)
ISS="https://auth.bench.local"   # the issuer and audience of every token and JWT config
AUD="bench-api"

# need_tools HINT TOOL...: every TOOL on PATH (also looked for in /usr/sbin, /sbin), or exit
# saying where to get it (HINT).
need_tools() {
  local hint="$1" tool; shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null || PATH="$PATH:/usr/sbin:/sbin"
    command -v "$tool" >/dev/null || { echo "$PROG: '$tool' not found ($hint)" >&2; exit 1; }
  done
}

# "10s" / "2m" / "10" -> seconds (for the bounding timeouts only; wrk gets the string).
seconds() {
  local v="$1"
  case "$v" in
    *ms) echo 1 ;;
    *s) echo "${v%s}" ;;
    *m) echo $(( ${v%m} * 60 )) ;;
    *h) echo $(( ${v%h} * 3600 )) ;;
    *) echo "$v" ;;
  esac
}

# free_ports N: N distinct free 127.0.0.1 ports on one line (held open together while chosen).
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# setup_work NAME: a fresh temp dir $WORK (authgate-NAME.XXXXXX), removed on exit unless
# KEEP_WORK is set, and the exit trap that stops every started process first.
setup_work() {
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/authgate-$1.XXXXXX")"
  PIDS=()
  NAMES=()
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  # nginx workers drop to "nobody" when started as root: let them reach their temp dirs.
  chmod 755 "$WORK"
  USER_LINE=""
  [ "$(id -u)" = 0 ] && USER_LINE="user root;"
  return 0
}

# await_exit PID NAME: bounded wait (STOP_WAIT_S) for PID to exit, then SIGKILL; reaps it.
await_exit() {
  local pid="$1" name="$2" n
  for (( n=0; n<STOP_WAIT_S*10; n++ )); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$PROG: $name (pid $pid) ignored SIGTERM, killing" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# stop PID NAME: stops one started process now (SIGTERM, bounded wait, SIGKILL) and drops
# it from the list the exit trap stops.
stop() {
  local pid="$1" name="$2" i keep_p=() keep_n=()
  if kill -TERM "$pid" 2>/dev/null; then await_exit "$pid" "$name"; else wait "$pid" 2>/dev/null || true; fi
  for i in "${!PIDS[@]}"; do
    [ "${PIDS[$i]}" = "$pid" ] || { keep_p+=("${PIDS[$i]}"); keep_n+=("${NAMES[$i]}"); }
  done
  PIDS=("${keep_p[@]}"); NAMES=("${keep_n[@]}")
}

# cleanup (the exit trap): every process still on the list, by PID, newest first: SIGTERM
# to all, then a bounded wait for each, SIGKILL if it is still there; then the temp dir.
cleanup() {
  local i
  for (( i=${#PIDS[@]}-1; i>=0; i-- )); do kill -TERM "${PIDS[$i]}" 2>/dev/null || true; done
  for (( i=${#PIDS[@]}-1; i>=0; i-- )); do await_exit "${PIDS[$i]}" "${NAMES[$i]}"; done
  if [ -n "${KEEP_WORK:-}" ]; then echo "$PROG: kept $WORK" >&2; else rm -rf "$WORK"; fi
}

# start NAME PORT WAIT_S CMD...: runs CMD in the background (logs in $WORK/NAME.log), records
# its PID (the cleanup list, STARTED_PID, PID_<NAME with - as _>, see pid_of), and waits
# (bounded, WAIT_S) until 127.0.0.1:PORT accepts connections.
start() {
  local name="$1" port="$2" wait_s="$3"; shift 3
  "$@" >"$WORK/$name.log" 2>&1 &
  local pid=$! n
  PIDS+=("$pid"); NAMES+=("$name")
  STARTED_PID=$pid
  eval "PID_${name//-/_}=$pid"
  for (( n=0; n<wait_s*10; n++ )); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$PROG: $name exited during start-up:" >&2; tail -20 "$WORK/$name.log" >&2; exit 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$PROG: $name not listening on 127.0.0.1:$port after $wait_s s" >&2; tail -20 "$WORK/$name.log" >&2; exit 1
}
pid_of() { local v="PID_${1//-/_}"; echo "${!v}"; }

# render TEMPLATE OUT KEY=VALUE...: replaces @KEY@ with VALUE (values may span lines);
# a placeholder left unreplaced is an error.
render() {
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

# render_gateway proxy|jwt|hs256 OUT PORT BACKEND_PORT: the authgate config of that case
# (templates/authgate-proxy.yaml; authgate-jwt.yaml, which needs $WORK/rs-public.pem).
render_gateway() {
  local kind="$1" out="$2" port="$3" backend="$4"
  case "$kind" in
    proxy) render "$HERE/templates/authgate-proxy.yaml" "$out" BACKEND_PORT="$backend" PORT="$port" ;;
    jwt|hs256) render "$HERE/templates/authgate-jwt.yaml" "$out" BACKEND_PORT="$backend" PORT="$port" \
                 HS_SECRET="$HS_SECRET" RS_PUBKEY="$WORK/rs-public.pem" ISS="$ISS" AUD="$AUD" ;;
    *) echo "$PROG: render_gateway: unknown case '$kind'" >&2; exit 1 ;;
  esac
}

# start_backend PORT [PREFIX...]: the shared backend (nginx, 1 worker, 'return 200 ok';
# templates/backend-nginx.conf) on PORT, started as PREFIX... nginx (e.g. nice -n -10),
# and checked.
start_backend() {
  local port="$1"; shift
  mkdir -p "$WORK/backend-nginx-tmp"
  render "$HERE/templates/backend-nginx.conf" "$WORK/backend-nginx.conf" DIR="$WORK" BACKEND_PORT="$port" \
    USER_LINE="$USER_LINE"
  start backend "$port" 10 "$@" nginx -p "$WORK" -e "$WORK/backend-nginx.startup.log" -c "$WORK/backend-nginx.conf"
  check "backend answers" 200 "http://127.0.0.1:$port/"
}

# rsa_keypair: $WORK/rs-private.pem (RSA 2048) and $WORK/rs-public.pem.
rsa_keypair() {
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/rs-private.pem" 2>/dev/null
  openssl pkey -in "$WORK/rs-private.pem" -pubout -out "$WORK/rs-public.pem"
}

# gen_tokens HS256|RS256 COUNT OUT: COUNT distinct tokens (gen_tokens.py, sub user-0...,
# 2 h), one a line, signed with $HS_SECRET or $WORK/rs-private.pem.
gen_tokens() {
  local alg="$1" count="$2" out="$3" signer
  if [ "$alg" = RS256 ]; then signer=(--key "$WORK/rs-private.pem"); else signer=(--secret "$HS_SECRET"); fi
  python3 "$HERE/gen_tokens.py" --alg "$alg" "${signer[@]}" --iss "$ISS" --aud "$AUD" \
    --count "$count" --ttl 7200 --out "$out"
}

# check LABEL EXPECT_STATUS CURL_ARGS...: one request; fails the run on a wrong status.
check() {
  local label="$1" want="$2"; shift 2
  local got
  got=$(curl -s -o "$WORK/check.body" -D "$WORK/check.headers" -w '%{http_code}' --max-time "$CHECK_MAX_TIME" "$@" || true)
  if [ "$got" != "$want" ]; then
    echo "$PROG: sanity check '$label' expected $want, got $got" >&2
    cat "$WORK/check.headers" "$WORK/check.body" >&2 2>/dev/null || true
    exit 1
  fi
}
# header_is NAME VALUE: the last checked response had that header value.
header_is() {
  local v
  v=$(tr -d '\r' < "$WORK/check.headers" | awk -v n="${1,,}" -F': ' 'tolower($1)==n {print $2}' | tail -1)
  if [ "$v" != "$2" ]; then
    echo "$PROG: expected response header '$1: $2', got '$v'" >&2; cat "$WORK/check.headers" >&2; exit 1
  fi
}

# CPU clock ticks (utime+stime, all threads) of a process and its direct children (the
# nginx master's worker); children's exited descendants are not counted.
ticks_of() {
  local root="$1" total=0 p s f
  for p in "$root" $(pgrep -P "$root" || true); do
    s="$(cat "/proc/$p/stat" 2>/dev/null)" || continue
    s="${s##*) }"
    read -r -a f <<< "$s"
    total=$(( total + f[11] + f[12] ))
  done
  echo "$total"
}
load1() { cut -d' ' -f1 /proc/loadavg; }

# parse_wrk OUT: WRK_REQS, WRK_RPS, WRK_P50, WRK_P99 (empty without --latency), WRK_NON2XX,
# WRK_SOCKERR (0 when wrk reports none) from a wrk output file.
parse_wrk() {
  local out="$1"
  WRK_REQS=$(awk '/requests in/ {print $1}' "$out")
  WRK_RPS=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  WRK_P50=$(awk '$1=="50%" {print $2}' "$out")
  WRK_P99=$(awk '$1=="99%" {print $2}' "$out")
  WRK_NON2XX=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out"); WRK_NON2XX=${WRK_NON2XX:-0}
  WRK_SOCKERR=$(awk '/Socket errors:/ {gsub(",", ""); print $4+$6+$8+$10}' "$out"); WRK_SOCKERR=${WRK_SOCKERR:-0}
}
# us_per_req TICKS REQS: CPU microseconds per request (REQS 0 counts as 1).
us_per_req() { python3 -c "print($1*1e6/$CLK_TCK/max(1,$2))"; }
