#!/usr/bin/env bash
# HTTP/2 load benchmark: authgate (TLS listener, server.http2 on) against nginx (`listen ...
# ssl http2`), each with ONE worker and the same self-signed certificate, in front of the
# same backend (nginx answering a static "ok") over HTTP/1.1 keep-alive, loaded by h2load
# on 127.0.0.1 only: 64 streams over 8 connections (h2load -c8 -m8), TLS 1.3. Reports
# req/s, mean latency and the proxy process's CPU time per request (utime+stime from
# /proc/PID/stat over the measured run / requests succeeded), and authgate/nginx. A second
# case runs authgate with an HS256 route over h2 (a valid token on every request).
#
# Usage: benchmarks/load/h2.sh [--duration 10] [--warmup 2] [--rounds 1] [--no-build]
#   --duration/--warmup in seconds; --rounds alternates which proxy runs first.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$HERE/lib.sh"

DURATION=10
WARMUP=2
ROUNDS=1
BUILD=1
usage() { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "h2.sh: unknown argument '$1'" >&2; usage 2 ;;
  esac
done
[[ "$DURATION" =~ ^[0-9]+$ && "$WARMUP" =~ ^[0-9]+$ && "$ROUNDS" =~ ^[0-9]+$ ]] ||
  { echo "h2.sh: --duration, --warmup and --rounds are whole numbers" >&2; exit 2; }

ROOT="$(cd "$HERE/../.." && pwd)"
BUILD_DIR="${AUTHGATE_BUILD:-$ROOT/build-bench}"
need_tools "deploy/install-deps.sh bench" h2load nginx python3 openssl curl
if [ "$BUILD" = 1 ]; then
  echo "== building authgate (Release) in $BUILD_DIR"
  (cd "$ROOT" && cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DAUTHGATE_TESTS=OFF >/dev/null &&
     ninja -C "$BUILD_DIR" authgate)
fi
AUTHGATE="$BUILD_DIR/authgate"
[ -x "$AUTHGATE" ] || { echo "h2.sh: $AUTHGATE missing (drop --no-build)" >&2; exit 1; }

setup_work h2
read -r BACKEND_PORT P_NGINX P_AG P_AG_JWT < <(free_ports 4)
HS_SECRET="$(openssl rand -hex 32)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$WORK/key.pem" -out "$WORK/cert.pem" >/dev/null 2>&1

# with_h2 FILE: the rendered authgate config FILE with server.tls and server.http2 added.
with_h2() {
  python3 - "$1" "$WORK/cert.pem" "$WORK/key.pem" <<'PY'
import sys
path, cert, key = sys.argv[1:]
text = open(path).read()
add = f"  tls:\n    cert_file: {cert}\n    key_file: {key}\n  http2:\n    enabled: true\n    max_concurrent_streams: 128\n"
assert "  workers: 1\n" in text
open(path, "w").write(text.replace("  workers: 1\n", "  workers: 1\n" + add, 1))
PY
}

echo "== h2 load benchmark: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))"
echo "   h2load -c8 -m8 -t1 -D $DURATION (warm-up ${WARMUP}s), $ROUNDS round(s), TLS 1.3, load only on 127.0.0.1"
echo "   one worker each; access logs off; backend nginx 'return 200 ok' over HTTP/1.1 keep-alive"
echo "   load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: other processes' CPU is a confounder)"

mkdir -p "$WORK/nginx-h2-tmp"
start_backend "$BACKEND_PORT"
render "$HERE/templates/nginx-h2.conf" "$WORK/nginx-h2.conf" DIR="$WORK" BACKEND_PORT="$BACKEND_PORT" PORT="$P_NGINX" \
  USER_LINE="$USER_LINE" CERT="$WORK/cert.pem" KEY="$WORK/key.pem"
start nginx "$P_NGINX" 10 nginx -p "$WORK" -e "$WORK/nginx-h2.startup.log" -c "$WORK/nginx-h2.conf"
render_gateway proxy "$WORK/authgate-h2.yaml" "$P_AG" "$BACKEND_PORT"
with_h2 "$WORK/authgate-h2.yaml"
"$AUTHGATE" -c "$WORK/authgate-h2.yaml" --check >/dev/null
start authgate "$P_AG" 10 "$AUTHGATE" -c "$WORK/authgate-h2.yaml"

rsa_keypair
render_gateway jwt "$WORK/authgate-h2-jwt.yaml" "$P_AG_JWT" "$BACKEND_PORT"
with_h2 "$WORK/authgate-h2-jwt.yaml"
"$AUTHGATE" -c "$WORK/authgate-h2-jwt.yaml" --check >/dev/null
start authgate-jwt "$P_AG_JWT" 10 "$AUTHGATE" -c "$WORK/authgate-h2-jwt.yaml"
HS_TOKEN=$("$AUTHGATE" token --alg HS256 --secret "$HS_SECRET" --iss "$ISS" --aud "$AUD" --sub bench-user --ttl 2h)

for p in "$P_AG" "$P_NGINX"; do
  v=$(curl -sk --http2 -o /dev/null -w '%{http_version} %{http_code}' "https://127.0.0.1:$p/x")
  [ "$v" = "2 200" ] || { echo "h2.sh: 127.0.0.1:$p answered '$v', not h2 200" >&2; exit 1; }
done
v=$(curl -sk --http2 -o /dev/null -w '%{http_version} %{http_code}' -H "Authorization: Bearer $HS_TOKEN" \
      "https://127.0.0.1:$P_AG_JWT/hs/x")
[ "$v" = "2 200" ] || { echo "h2.sh: the HS256 route answered '$v'" >&2; exit 1; }

RESULTS="$WORK/results.tsv"
: > "$RESULTS"
# run LABEL PROCESS URL [h2load args...]: warm-up, then the measured run; one TSV row.
run() {
  local label="$1" proc="$2" url="$3"; shift 3
  local pid out t0 t1 done_ rps mean
  pid=$(pid_of "$proc")
  out="$WORK/h2load-$label.out"
  if [ "$WARMUP" -gt 0 ]; then
    timeout -k 5 $((WARMUP + 30)) h2load -c8 -m8 -t1 -D "$WARMUP" "$@" "$url" >/dev/null 2>&1 || true
  fi
  t0=$(ticks_of "$pid")
  timeout -k 5 $((DURATION + 30)) h2load -c8 -m8 -t1 -D "$DURATION" "$@" "$url" >"$out" 2>&1 ||
    { echo "h2.sh: h2load failed:" >&2; cat "$out" >&2; exit 1; }
  t1=$(ticks_of "$pid")
  grep -q 'Application protocol: h2' "$out" || { echo "h2.sh: h2load did not negotiate h2" >&2; cat "$out" >&2; exit 1; }
  done_=$(awk '/^requests:/ {print $8}' "$out")
  rps=$(awk '/^finished in/ {gsub(",", ""); print $4}' "$out")
  mean=$(awk '/^time for request:/ {print $6}' "$out")
  local non2xx; non2xx=$(awk '/^status codes:/ {gsub(",", ""); print $5+$7+$9}' "$out")
  printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$done_" "$rps" "$((t1 - t0))" "$non2xx" >> "$RESULTS"
  printf '   %-18s %10s req/s  mean %-9s cpu %6.1f us/req  non-2xx %s\n' "$label" "$rps" "$mean" \
    "$(us_per_req $((t1 - t0)) "$done_")" "$non2xx"
}

for (( r=1; r<=ROUNDS; r++ )); do
  echo "== round $r"
  if (( r % 2 == 1 )); then
    run authgate authgate "https://127.0.0.1:$P_AG/x"; run nginx nginx "https://127.0.0.1:$P_NGINX/x"
  else
    run nginx nginx "https://127.0.0.1:$P_NGINX/x"; run authgate authgate "https://127.0.0.1:$P_AG/x"
  fi
  run authgate-hs256 authgate-jwt "https://127.0.0.1:$P_AG_JWT/hs/x" -H "Authorization: Bearer $HS_TOKEN"
done

python3 - "$RESULTS" "$CLK_TCK" <<'PY'
import collections, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
tck = int(sys.argv[2])
cpu = collections.defaultdict(lambda: [0, 0])
for label, done, rps, ticks, non2xx in rows:
    cpu[label][0] += int(ticks)
    cpu[label][1] += int(done)
us = {k: v[0] * 1e6 / tck / max(1, v[1]) for k, v in cpu.items()}
print("== CPU per request over all rounds")
for k in sorted(us):
    print(f"   {k:<18} {us[k]:7.1f} us/req")
if "authgate" in us and "nginx" in us:
    print(f"   authgate/nginx plain h2 proxying: {us['authgate'] / us['nginx']:.2f}x (target <= 1.0x)")
PY
