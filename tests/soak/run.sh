#!/usr/bin/env bash
# Adversarial soak test of the release gateway (not run in CI; see tests/soak/README.md).
# build/authgate in front of build/authgate-demo-backend, on 127.0.0.1 only, for a bounded
# time: valid GET/POST traffic (public and RS256-JWT-protected, key from a local jwks_url)
# mixed with smuggling/framing attacks, slowloris, trickled bodies, huge chunk-size lines,
# endless trailers, a SIGHUP every 2 s and a JWKS issuer that goes down and comes back.
# Pass: 0 valid requests failed, VmRSS under the bound, no fd growth, gateway alive,
# nothing smuggled, every attack answered 4xx or closed. Exit 0 pass, 1 fail, 2 usage/setup.
#
# Usage: tests/soak/run.sh [--duration 600] [--rss-limit-mib 64] [--fd-slack 4] [--settle 30]
#                          [--header-timeout 5] [--authgate PATH] [--backend PATH]
#                          [--skip KIND,...] [-- extra soak.py options]
# KEEP_WORK=1 keeps the work dir (configs, logs, rss.tsv); it is also kept on failure.
set -euo pipefail

DURATION=600
RSS_LIMIT=64
FD_SLACK=4
SETTLE=30
HEADER_TIMEOUT=5
SKIP=""
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/tests/soak"
AUTHGATE="$ROOT/build/authgate"
BACKEND="$ROOT/build/authgate-demo-backend"
EXTRA=()
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --rss-limit-mib) RSS_LIMIT="$2"; shift 2 ;;
    --fd-slack) FD_SLACK="$2"; shift 2 ;;
    --settle) SETTLE="$2"; shift 2 ;;
    --header-timeout) HEADER_TIMEOUT="$2"; shift 2 ;;
    --authgate) AUTHGATE="$2"; shift 2 ;;
    --backend) BACKEND="$2"; shift 2 ;;
    --skip) SKIP="$2"; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) usage 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage 2 ;;
  esac
done
for v in "$DURATION" "$RSS_LIMIT" "$FD_SLACK" "$SETTLE" "$HEADER_TIMEOUT"; do
  [[ "$v" =~ ^[0-9]+$ ]] || { echo "run.sh: '$v' is not a whole number" >&2; exit 2; }
done
for tool in python3 openssl; do
  command -v "$tool" >/dev/null || { echo "run.sh: '$tool' not found" >&2; exit 2; }
done

# The binaries are built by CMake in build/ (maybe by someone else right now): wait for
# them, bounded (20 min), rather than starting a build of our own.
for (( n=0; n<240; n++ )); do
  [ -x "$AUTHGATE" ] && [ -x "$BACKEND" ] && break
  [ "$n" = 0 ] && echo "run.sh: waiting (up to 20 min) for $AUTHGATE and $BACKEND to be built"
  sleep 5
done
if [ ! -x "$AUTHGATE" ] || [ ! -x "$BACKEND" ]; then
  echo "run.sh: $AUTHGATE or $BACKEND missing (cmake --build build --target authgate authgate-demo-backend)" >&2; exit 2
fi
if [ "$AUTHGATE" = "$ROOT/build/authgate" ] && ! grep -q '^CMAKE_BUILD_TYPE:STRING=Release' "$ROOT/build/CMakeCache.txt" 2>/dev/null; then
  echo "run.sh: warning: build/ is not a Release build; RSS figures may not be representative" >&2
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/authgate-soak.XXXXXX")"
PIDFILE="$WORK/pids"
: > "$PIDFILE"
DRIVER_PID=""
RC=2
# Stops the driver (which stops its children), then anything it started that is still
# alive, by the PIDs it recorded (checked against /proc/PID/cmdline so a recycled PID is
# never signalled).
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local pid name n
  if [ -n "$DRIVER_PID" ] && kill -0 "$DRIVER_PID" 2>/dev/null; then
    kill -TERM "$DRIVER_PID" 2>/dev/null || true
    for (( n=0; n<150; n++ )); do kill -0 "$DRIVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DRIVER_PID" 2>/dev/null || true
    wait "$DRIVER_PID" 2>/dev/null || true
  fi
  while read -r pid name; do
    [ -n "$pid" ] || continue
    if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "$WORK\|$BACKEND\|jwks_issuer.py"; then
      kill -TERM "$pid" 2>/dev/null || true
      for (( n=0; n<50; n++ )); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then
        echo "run.sh: $name (pid $pid) ignored SIGTERM, killing" >&2
        kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
  done < "$PIDFILE"
  if [ -n "${KEEP_WORK:-}" ] || [ "$RC" != 0 ]; then echo "run.sh: work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Free 127.0.0.1 ports, all distinct (held open together while chosen).
read -r PORT ADMIN_PORT BACKEND_PORT CANARY_PORT ISSUER_PORT < <(python3 - <<'PY'
import socket
socks = []
for _ in range(5):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
)

# RS256 key, its JWKS (kid soak-1), tokens for four users (valid for the whole run).
ISS="https://issuer.soak.local"
AUD="soak-api"
KID="soak-1"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/rs-private.pem" 2>/dev/null
MODULUS=$(openssl rsa -in "$WORK/rs-private.pem" -noout -modulus | cut -d= -f2)
python3 - "$MODULUS" "$KID" > "$WORK/jwks.json" <<'PY'
import base64, json, sys
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
n = bytes.fromhex(sys.argv[1])
print(json.dumps({"keys": [{"kty": "RSA", "kid": sys.argv[2], "use": "sig", "alg": "RS256",
                            "n": b64(n), "e": b64((65537).to_bytes(3, "big"))}]}))
PY
TTL="$(( DURATION / 3600 + 2 ))h"
: > "$WORK/tokens.txt"
for u in 0 1 2 3; do
  tok=$("$AUTHGATE" token --alg RS256 --key "$WORK/rs-private.pem" --kid "$KID" --iss "$ISS" --aud "$AUD" \
        --sub "soak-user-$u" --ttl "$TTL")
  echo "soak-user-$u $tok" >> "$WORK/tokens.txt"
done

# The config: tests/soak/authgate-soak.yaml with the ports filled in. request_body is
# uncommented when this binary knows the key (it is being added), else left commented.
render() {
  python3 - "$HERE/authgate-soak.yaml" "$1" "$2" PORT="$PORT" ADMIN_PORT="$ADMIN_PORT" BACKEND_PORT="$BACKEND_PORT" \
    CANARY_PORT="$CANARY_PORT" ISSUER_PORT="$ISSUER_PORT" ISS="$ISS" AUD="$AUD" HEADER_TIMEOUT="${HEADER_TIMEOUT}s" <<'PY'
import re, sys
tpl, out, request_body, pairs = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4:]
text = open(tpl).read()
for p in pairs:
    k, v = p.split("=", 1)
    text = text.replace("@" + k + "@", v)
if request_body:
    text = re.sub(r"^(\s*)# (request_body: \S+).*SOAK_REQUEST_BODY.*$", r"\1\2", text, flags=re.M)
left = [x for x in re.findall(r"@[A-Z_]+@", text) if x != "@NAME@"]
if left:
    sys.exit(f"render: no value for {sorted(set(left))}")
open(out, "w").write(text)
PY
}
CONFIG="$WORK/authgate-soak.yaml"
REQUEST_BODY_TIMEOUT=0
render "$CONFIG" 1
if "$AUTHGATE" -c "$CONFIG" --check > "$WORK/check.out" 2>&1; then
  REQUEST_BODY_TIMEOUT=$(sed -n 's/^ *request_body: *\([0-9]*\)s.*/\1/p' "$CONFIG")
else
  render "$CONFIG" 0
  "$AUTHGATE" -c "$CONFIG" --check > "$WORK/check.out" 2>&1 ||
    { echo "run.sh: the soak config does not validate:" >&2; cat "$WORK/check.out" >&2; exit 2; }
  echo "run.sh: note: this binary does not accept server.timeouts.request_body; it stays commented out"
fi

echo "== authgate soak: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, ${DURATION}s, loopback only"
echo "   gateway $AUTHGATE ($(stat -c '%y' "$AUTHGATE" | cut -d. -f1)) on 127.0.0.1:$PORT, admin :$ADMIN_PORT"
echo "   demo backend :$BACKEND_PORT, canary backend :$CANARY_PORT, JWKS issuer :$ISSUER_PORT; work dir $WORK"
echo "   header timeout ${HEADER_TIMEOUT}s, request_body timeout $([ "$REQUEST_BODY_TIMEOUT" != 0 ] && echo "${REQUEST_BODY_TIMEOUT}s" || echo "not supported")," \
     "RSS limit ${RSS_LIMIT} MiB, fd slack $FD_SLACK"

# The driver is bounded by itself (duration + warm-up + settle + bounded waits); timeout
# is the backstop.
timeout -k 10 $(( DURATION + SETTLE + 240 )) python3 "$HERE/soak.py" \
  --authgate "$AUTHGATE" --backend "$BACKEND" --config "$CONFIG" --work "$WORK" --pidfile "$PIDFILE" \
  --tokens "$WORK/tokens.txt" --jwks "$WORK/jwks.json" \
  --port "$PORT" --admin-port "$ADMIN_PORT" --backend-port "$BACKEND_PORT" --canary-port "$CANARY_PORT" \
  --issuer-port "$ISSUER_PORT" --duration "$DURATION" --rss-limit-mib "$RSS_LIMIT" --fd-slack "$FD_SLACK" \
  --settle "$SETTLE" --header-timeout "$HEADER_TIMEOUT" --request-body-timeout "$REQUEST_BODY_TIMEOUT" \
  --pool-idle 2 --skip "$SKIP" "${EXTRA[@]}" &
DRIVER_PID=$!
set +e
wait "$DRIVER_PID"
RC=$?
set -e
DRIVER_PID=""
case "$RC" in 0|1) ;; *) echo "run.sh: the soak driver could not run (status $RC); logs in $WORK" >&2; RC=2 ;; esac
exit "$RC"
