#!/usr/bin/env bash
# Load benchmark: authgate against nginx and HAProxy 2.6, side by side in one run, each
# with ONE worker, in front of the same backend (nginx answering a static "ok"), loaded by
# wrk on 127.0.0.1 only. Reports req/s, p50, p99 and the proxy process's CPU time per
# request (utime+stime from /proc/PID/stat over the wrk run / requests completed), and the
# ratio authgate/peer against the project's targets. See benchmarks/README.md.
#
# Usage: benchmarks/load/run.sh [--duration 10s] [--connections 50] [--case all|proxy|jwt|cors]
#                               [--rounds 1] [--warmup 2s] [--tokens 20000] [--no-build]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$HERE/lib.sh"

DURATION=10s
CONNECTIONS=50
CASE=all
ROUNDS=1
WARMUP=2s
TOKENS=20000
BUILD=1
usage() { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --case) CASE="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --tokens) TOKENS="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage 2 ;;
  esac
done
case "$CASE" in all|proxy|jwt|cors) ;; *) echo "run.sh: --case must be all|proxy|jwt|cors" >&2; exit 2 ;; esac

DUR_S=$(seconds "$DURATION")
WARM_S=$(seconds "$WARMUP")
[[ "$DUR_S" =~ ^[0-9]+$ && "$WARM_S" =~ ^[0-9]+$ && "$CONNECTIONS" =~ ^[0-9]+$ && "$ROUNDS" =~ ^[0-9]+$ ]] ||
  { echo "run.sh: bad --duration/--warmup/--connections/--rounds" >&2; exit 2; }

ROOT="$(cd "$HERE/../.." && pwd)"
BUILD_DIR="$ROOT/build-bench"
need_tools "deploy/install-deps.sh bench" wrk nginx haproxy python3 openssl curl

if [ "$BUILD" = 1 ]; then
  echo "== building authgate (Release) in build-bench"
  (cd "$ROOT" && cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DAUTHGATE_TESTS=OFF >/dev/null &&
     ninja -C build-bench authgate authgate-demo-backend)
fi
AUTHGATE="$BUILD_DIR/authgate"
[ -x "$AUTHGATE" ] || { echo "run.sh: $AUTHGATE missing (drop --no-build)" >&2; exit 1; }

setup_work load

HS_SECRET="$(openssl rand -hex 32)"
RESULTS="$WORK/results.tsv"
: > "$RESULTS"

read -r BACKEND_PORT P_NGINX P_HAPROXY P_HS P_RS P_AG_PROXY P_AG_JWT P_AG_CORS_S P_AG_CORS_L < <(free_ports 9)

backend_accepts() {
  curl -s --max-time 2 "http://127.0.0.1:$BACKEND_PORT/__status" | awk 'NR==3 {print $1}'
}


declare -A NEXT_INDEX
# load CASE SUB PROXY_LABEL PROCESS_NAME URL [--tokens FILE | --lua SCRIPT ARGS] [wrk args...]
# Warm-up (connections, pools, caches), then the measured wrk run; appends one TSV row.
#   --tokens FILE   lua/tokens.lua cycling through FILE, continuing where this proxy's
#                   previous run of the same sub-case stopped (see tokens.lua)
#   --lua S ARGS    wrk script S with ARGS (one word list) after the URL
load() {
  local kase="$1" sub="$2" label="$3" proc="$4" url="$5"; shift 5
  local pid; pid=$(pid_of "$proc")
  local args=("$@") tokfile="" script="" sargs="" key="$kase/$sub/$label"
  if [ "${args[0]:-}" = "--tokens" ]; then tokfile="${args[1]}"; args=("${args[@]:2}"); fi
  if [ "${args[0]:-}" = "--lua" ]; then script="${args[1]}"; sargs="${args[2]}"; args=("${args[@]:3}"); fi
  local wrkargs=(-t1 -c"$CONNECTIONS" --timeout 5s)
  # run_wrk DURATION OUT [--latency]
  run_wrk() {
    local d="$1" o="$2" ds; shift 2
    ds=$(seconds "$d")
    if [ -n "$tokfile" ]; then
      timeout -k 5 $((ds + 30)) wrk "${wrkargs[@]}" -d"$d" "$@" "${args[@]}" -s "$HERE/lua/tokens.lua" "$url" \
        -- "$tokfile" "${NEXT_INDEX[$key]:-0}" > "$o" 2>&1 || return 1
      NEXT_INDEX[$key]=$(awk '/^next_index/ {print $2}' "$o" | tail -1)
    elif [ -n "$script" ]; then
      # shellcheck disable=SC2086  # the script's arguments are a word list
      timeout -k 5 $((ds + 30)) wrk "${wrkargs[@]}" -d"$d" "$@" "${args[@]}" -s "$script" "$url" -- $sargs > "$o" 2>&1 || return 1
    else
      timeout -k 5 $((ds + 30)) wrk "${wrkargs[@]}" -d"$d" "$@" "${args[@]}" "$url" > "$o" 2>&1 || return 1
    fi
  }
  if [ "$WARM_S" -gt 0 ]; then run_wrk "$WARMUP" "$WORK/warm.out" || true; fi

  local load0 acc0 t0 t1 acc1 out="$WORK/wrk-${kase}-${sub}-${label}.out"
  load0=$(load1)
  acc0=$(backend_accepts)
  t0=$(ticks_of "$pid")
  run_wrk "$DURATION" "$out" --latency || { echo "run.sh: wrk failed:" >&2; cat "$out" >&2; exit 1; }
  t1=$(ticks_of "$pid")
  acc1=$(backend_accepts)

  parse_wrk "$out"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kase" "$sub" "$label" "$ROUND" "$WRK_REQS" \
    "$WRK_RPS" "$WRK_P50" "$WRK_P99" "$((t1 - t0))" "$CLK_TCK" "$WRK_NON2XX" "$WRK_SOCKERR" "$((acc1 - acc0))" "$load0" \
    >> "$RESULTS"
  printf '   %-22s %-16s %10s req/s  p50 %-9s p99 %-9s cpu %5.1f us/req  non-2xx %s  errors %s  load %s\n' \
    "$kase/$sub" "$label" "$WRK_RPS" "$WRK_P50" "$WRK_P99" "$(us_per_req $((t1 - t0)) "$WRK_REQS")" \
    "$WRK_NON2XX" "$WRK_SOCKERR" "$load0"
}

# pair ORDERED_LIST...: runs "load" for each spec, alternating the order every round so
# neither proxy always runs first (drift in the machine's background load cancels out).
# Each spec is a string of load's arguments separated by '|'.
pair() {
  local specs=("$@") r i idx
  for (( r=1; r<=ROUNDS; r++ )); do
    ROUND=$r
    for (( i=0; i<${#specs[@]}; i++ )); do
      if (( r % 2 == 1 )); then idx=$i; else idx=$(( ${#specs[@]} - 1 - i )); fi
      local a; IFS="|" read -r -a a <<< "${specs[$idx]}"
      load "${a[@]}"
    done
  done
}

echo "== load benchmark: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))"
echo "   wrk -t1 -c$CONNECTIONS -d$DURATION --latency (warm-up $WARMUP), $ROUNDS round(s), load only on 127.0.0.1"
echo "   one worker each: authgate server.workers: 1, nginx worker_processes 1, haproxy nbthread 1"
echo "   access logs OFF for every proxy (authgate log.access_log: false, nginx access_log off, haproxy no log)"
echo "   backend: nginx, 1 worker, 'return 200 ok' (port $BACKEND_PORT); work dir $WORK"
echo "   load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: other processes' CPU is a confounder)"

# ---- backend ---------------------------------------------------------------------------
mkdir -p "$WORK/nginx-proxy-tmp"
start_backend "$BACKEND_PORT"

# ---- keys, tokens, peers ---------------------------------------------------------------
need_jwt=0; case "$CASE" in all|jwt) need_jwt=1 ;; esac
need_haproxy=0; case "$CASE" in all|proxy|jwt) need_haproxy=1 ;; esac
if [ "$need_jwt" = 1 ] || [ "$need_haproxy" = 1 ]; then
  rsa_keypair
fi
if [ "$need_haproxy" = 1 ]; then
  render "$HERE/templates/haproxy.cfg" "$WORK/haproxy.cfg" BACKEND_PORT="$BACKEND_PORT" PORT_PROXY="$P_HAPROXY" \
    PORT_HS="$P_HS" PORT_RS="$P_RS" HS_SECRET="$HS_SECRET" RS_PUBKEY="$WORK/rs-public.pem" ISS="$ISS" AUD="$AUD"
  haproxy -c -q -f "$WORK/haproxy.cfg" || { echo "run.sh: haproxy config invalid" >&2; exit 1; }
  start haproxy "$P_HAPROXY" 10 haproxy -db -f "$WORK/haproxy.cfg"
fi

# ---- case 1: plain reverse proxy -------------------------------------------------------
if [ "$CASE" = all ] || [ "$CASE" = proxy ]; then
  echo "== case proxy: plain reverse proxy, keep-alive upstream (pool of 32 idle)"
  render "$HERE/templates/nginx-proxy.conf" "$WORK/nginx-proxy.conf" DIR="$WORK" BACKEND_PORT="$BACKEND_PORT" \
    PORT="$P_NGINX" USER_LINE="$USER_LINE"
  start nginx "$P_NGINX" 10 nginx -p "$WORK" -e "$WORK/nginx-proxy.startup.log" -c "$WORK/nginx-proxy.conf"
  render_gateway proxy "$WORK/authgate-proxy.yaml" "$P_AG_PROXY" "$BACKEND_PORT"
  "$AUTHGATE" -c "$WORK/authgate-proxy.yaml" --check >/dev/null
  start authgate-proxy "$P_AG_PROXY" 10 "$AUTHGATE" -c "$WORK/authgate-proxy.yaml"
  for p in "$P_AG_PROXY" "$P_NGINX" "$P_HAPROXY"; do check "proxy on $p" 200 "http://127.0.0.1:$p/x"; done
  pair "proxy|plain|authgate|authgate-proxy|http://127.0.0.1:$P_AG_PROXY/x" \
       "proxy|plain|nginx|nginx|http://127.0.0.1:$P_NGINX/x" \
       "proxy|plain|haproxy|haproxy|http://127.0.0.1:$P_HAPROXY/x"
fi

# ---- case 2: JWT -----------------------------------------------------------------------
if [ "$need_jwt" = 1 ]; then
  echo "== case jwt: bearer token verification + iss/aud/exp/sub checks + X-User-Id forwarding"
  render_gateway jwt "$WORK/authgate-jwt.yaml" "$P_AG_JWT" "$BACKEND_PORT"
  "$AUTHGATE" -c "$WORK/authgate-jwt.yaml" --check >/dev/null
  start authgate-jwt "$P_AG_JWT" 10 "$AUTHGATE" -c "$WORK/authgate-jwt.yaml"

  HS_TOKEN=$("$AUTHGATE" token --alg HS256 --secret "$HS_SECRET" --iss "$ISS" --aud "$AUD" --sub bench-user --ttl 2h)
  RS_TOKEN=$("$AUTHGATE" token --alg RS256 --key "$WORK/rs-private.pem" --iss "$ISS" --aud "$AUD" --sub bench-user --ttl 2h)
  echo "   generating $TOKENS distinct RS256 and HS256 tokens (gen_tokens.py)"
  gen_tokens RS256 "$TOKENS" "$WORK/rs-tokens.txt"
  gen_tokens HS256 "$TOKENS" "$WORK/hs-tokens.txt"
  RS_FRESH_SAMPLE=$(sed -n '7p' "$WORK/rs-tokens.txt")
  HS_FRESH_SAMPLE=$(sed -n '7p' "$WORK/hs-tokens.txt")
  # Change the signature's first character: its 6 bits are all signature bits. (The last
  # character also carries padding bits, which HAProxy's base64 decoder ignores, so
  # changing it could leave the signature intact.)
  bad_sig() { local sig=${1##*.} c=A; [ "${sig:0:1}" = A ] && c=B; echo "${1%.*}.$c${sig:1}"; }
  BAD_HS=$(bad_sig "$HS_TOKEN")
  BAD_RS=$(bad_sig "$RS_TOKEN")
  EXPIRED_HS=$("$AUTHGATE" token --alg HS256 --secret "$HS_SECRET" --iss "$ISS" --aud "$AUD" --sub old --ttl -2m 2>/dev/null ||
               python3 - "$HS_SECRET" "$ISS" "$AUD" <<'PY'
import base64, hashlib, hmac, json, sys, time
b = lambda x: base64.urlsafe_b64encode(x).rstrip(b"=").decode()
h = b(b'{"alg":"HS256","typ":"JWT"}')
p = b(json.dumps({"iss": sys.argv[2], "aud": sys.argv[3], "sub": "old", "exp": int(time.time()) - 120}).encode())
print(h + "." + p + "." + b(hmac.new(sys.argv[1].encode(), (h + "." + p).encode(), hashlib.sha256).digest()))
PY
)
  WRONG_AUD_HS=$("$AUTHGATE" token --alg HS256 --secret "$HS_SECRET" --iss "$ISS" --aud other-api --sub x --ttl 1h)
  # Both gateways: accept good tokens (and forward X-User-Id), reject bad ones.
  for gw in "authgate:$P_AG_JWT:/hs/x:/rs/x" "haproxy-hs:$P_HS:/x:" "haproxy-rs:$P_RS::/x"; do
    IFS=: read -r name port hspath rspath <<< "$gw"
    if [ -n "$hspath" ]; then
      check "$name HS256 good" 200 -H "Authorization: Bearer $HS_TOKEN" "http://127.0.0.1:$port$hspath"; header_is X-Seen-User bench-user
      check "$name HS256 fresh" 200 -H "Authorization: Bearer $HS_FRESH_SAMPLE" "http://127.0.0.1:$port$hspath"; header_is X-Seen-User user-6
      check "$name HS256 no token" 401 "http://127.0.0.1:$port$hspath"
      check "$name HS256 bad sig" 401 -H "Authorization: Bearer $BAD_HS" "http://127.0.0.1:$port$hspath"
      check "$name HS256 expired" 401 -H "Authorization: Bearer $EXPIRED_HS" "http://127.0.0.1:$port$hspath"
      check "$name HS256 wrong aud" 401 -H "Authorization: Bearer $WRONG_AUD_HS" "http://127.0.0.1:$port$hspath"
      check "$name HS256 given RS256" 401 -H "Authorization: Bearer $RS_TOKEN" "http://127.0.0.1:$port$hspath"
    fi
    if [ -n "$rspath" ]; then
      check "$name RS256 good" 200 -H "Authorization: Bearer $RS_TOKEN" "http://127.0.0.1:$port$rspath"; header_is X-Seen-User bench-user
      check "$name RS256 fresh" 200 -H "Authorization: Bearer $RS_FRESH_SAMPLE" "http://127.0.0.1:$port$rspath"; header_is X-Seen-User user-6
      check "$name RS256 bad sig" 401 -H "Authorization: Bearer $BAD_RS" "http://127.0.0.1:$port$rspath"
      check "$name RS256 given HS256" 401 -H "Authorization: Bearer $HS_TOKEN" "http://127.0.0.1:$port$rspath"
    fi
  done
  echo "   sanity: both gateways accept good tokens (X-User-Id reaches the backend) and reject missing/bad-signature/expired/wrong-aud/wrong-alg ones"

  pair "jwt|hs256|authgate|authgate-jwt|http://127.0.0.1:$P_AG_JWT/hs/x|-H|Authorization: Bearer $HS_TOKEN" \
       "jwt|hs256|haproxy|haproxy|http://127.0.0.1:$P_HS/x|-H|Authorization: Bearer $HS_TOKEN"
  pair "jwt|rs256-repeated|authgate|authgate-jwt|http://127.0.0.1:$P_AG_JWT/rs/x|-H|Authorization: Bearer $RS_TOKEN" \
       "jwt|rs256-repeated|haproxy|haproxy|http://127.0.0.1:$P_RS/x|-H|Authorization: Bearer $RS_TOKEN"
  pair "jwt|rs256-fresh|authgate|authgate-jwt|http://127.0.0.1:$P_AG_JWT/rs/x|--tokens|$WORK/rs-tokens.txt" \
       "jwt|rs256-fresh|haproxy|haproxy|http://127.0.0.1:$P_RS/x|--tokens|$WORK/rs-tokens.txt"
  pair "jwt|hs256-fresh|authgate|authgate-jwt|http://127.0.0.1:$P_AG_JWT/hs/x|--tokens|$WORK/hs-tokens.txt" \
       "jwt|hs256-fresh|haproxy|haproxy|http://127.0.0.1:$P_HS/x|--tokens|$WORK/hs-tokens.txt"
fi

# ---- case 3: CORS policy size ----------------------------------------------------------
if [ "$CASE" = all ] || [ "$CASE" = cors ]; then
  echo "== case cors: allowed Origin on every request, every other request a preflight; small vs large policy"
  # Small: 1 exact origin + 1 regex. Large: 1000 exact origins + 20 regexes (the matching
  # regex last). Requests use the exact origin and 8 origins only the regex allows.
  python3 - "$WORK" <<'PY'
import sys
d = sys.argv[1]
tenant = r"'^https://tenant-[0-9]+\.example\.com$'"
with open(d + "/small-origins", "w") as f:
    f.write("        - https://app.example.com\n")
with open(d + "/small-regexes", "w") as f:
    f.write("        - " + tenant + "\n")
with open(d + "/large-origins", "w") as f:
    for i in range(499):
        f.write(f"        - https://shop-{i}.example.org\n")
    f.write("        - https://app.example.com\n")
    for i in range(500):
        f.write(f"        - https://partner-{i}.example.net:8443\n")
with open(d + "/large-regexes", "w") as f:
    for i in range(19):
        f.write(f"        - '^https://[a-z0-9-]+\\.region-{i}\\.example\\.io$'\n")
    f.write("        - " + tenant + "\n")
PY
  for size in small large; do
    port="$P_AG_CORS_S"; [ "$size" = large ] && port="$P_AG_CORS_L"
    render "$HERE/templates/authgate-cors.yaml" "$WORK/authgate-cors-$size.yaml" BACKEND_PORT="$BACKEND_PORT" \
      PORT="$port" ORIGINS="$(cat "$WORK/$size-origins")" REGEXES="$(cat "$WORK/$size-regexes")" \
      POLICY_NOTE="Policy: $size."
    "$AUTHGATE" -c "$WORK/authgate-cors-$size.yaml" --check >/dev/null
    start "authgate-cors-$size" "$port" 10 "$AUTHGATE" -c "$WORK/authgate-cors-$size.yaml"
    check "cors $size GET" 200 -H "Origin: https://tenant-3.example.com" "http://127.0.0.1:$port/x"
    header_is Access-Control-Allow-Origin https://tenant-3.example.com
    check "cors $size preflight" 204 -X OPTIONS -H "Origin: https://app.example.com" \
      -H "Access-Control-Request-Method: POST" -H "Access-Control-Request-Headers: content-type, authorization" \
      "http://127.0.0.1:$port/x"
    header_is Access-Control-Allow-Origin https://app.example.com
  done
  ORIGINS=(https://app.example.com)
  for i in 1 2 3 4 5 6 7 8; do ORIGINS+=("https://tenant-$i.example.com"); done
  pair "cors|policy|authgate-small|authgate-cors-small|http://127.0.0.1:$P_AG_CORS_S/x|--lua|$HERE/lua/cors.lua|${ORIGINS[*]}" \
       "cors|policy|authgate-large|authgate-cors-large|http://127.0.0.1:$P_AG_CORS_L/x|--lua|$HERE/lua/cors.lua|${ORIGINS[*]}"
fi

echo
python3 "$HERE/report.py" "$RESULTS"
