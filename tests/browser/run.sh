#!/usr/bin/env bash
# Real-browser CORS test of authgate (see cors.test.mjs for what is checked), run twice:
# against a plain HTTP/1.1 listener, then against a TLS listener with server.http2 on
# (certificate made here with openssl; chromium ignores certificate errors on its
# throw-away profile), where every check runs over h2 and the browser's protocol is asserted.
#
# Starts, each on a free loopback port: the demo backend, a tiny static server for the test
# page on two origins (pages.mjs), and authgate with a config written here; then drives
# Debian's chromium headless with playwright-core (cors.test.mjs). Every process is stopped
# by PID on exit. Exit 0 when every check passed, 1 otherwise.
#
# Env: AUTHGATE_BUILD  build dir holding authgate and authgate-demo-backend; unset = build
#                      them into build-browser/ (one job).
#      CHROMIUM        browser executable (default /usr/bin/chromium).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

say() { echo "browser-test [${SECONDS}s]: $*"; }
die() { echo "browser-test: $*" >&2; exit 1; }

# ---- cleanup: every process this script starts is stopped by PID ----------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/authgate-browser.XXXXXX")
pids=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do  # up to 5 s for a graceful stop
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  # A browser left behind by a killed test runner: only processes using this run's profile.
  if command -v pgrep >/dev/null; then
    for pid in $(pgrep -f -- "--user-data-dir=$work/profile" || true); do kill -KILL "$pid" 2>/dev/null || true; done
  fi
  if [ "$rc" != 0 ]; then
    for f in "$work"/*.log; do
      [ -s "$f" ] && { echo "---- $(basename "$f") (last 30 lines)"; tail -n 30 "$f"; }
    done
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- prerequisites --------------------------------------------------------------------------
[ -x "$CHROMIUM" ] || die "$CHROMIUM not found (apt-get install -y chromium; deploy/install-deps.sh test lists it)"
command -v node >/dev/null || die "node not found"
command -v npm >/dev/null || die "npm not found"

if [ -n "${AUTHGATE_BUILD:-}" ]; then
  build=$(cd "$AUTHGATE_BUILD" && pwd)
else
  build="$root/build-browser"
  say "building authgate and authgate-demo-backend in $build (one job)"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DAUTHGATE_TESTS=OFF \
        -DAUTHGATE_BENCHMARKS=OFF >"$work/build.log" 2>&1 || die "cmake configure failed"
  ninja -C "$build" -j1 authgate authgate-demo-backend >>"$work/build.log" 2>&1 || die "build failed"
fi
for bin in authgate authgate-demo-backend; do
  [ -x "$build/$bin" ] || die "$build/$bin missing"
done

# playwright-core only (no browser download): the lock pins it.
(
  cd "$here"
  if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --prefer-offline --loglevel=error
  else
    npm install --no-audit --no-fund --loglevel=error
  fi
) >"$work/npm.log" 2>&1 || die "npm install of playwright-core failed"
rm -f "$work/npm.log" "$work/build.log"
say "node modules ready"

# ---- services -------------------------------------------------------------------------------
# wait_for_line FILE REGEX PID SECONDS: prints the first match, fails on deadline or exit.
wait_for_line() {
  local file=$1 re=$2 pid=$3 deadline=$(( $(date +%s) + $4 )) line name
  name=$(basename "$file" .log)
  while :; do
    line=$(grep -oE "$re" "$file" 2>/dev/null | head -n 1 || true)
    if [ -n "$line" ]; then echo "$line"; return 0; fi
    kill -0 "$pid" 2>/dev/null || { echo "browser-test: $name (pid $pid) exited before it was ready" >&2; return 1; }
    [ "$(date +%s)" -lt "$deadline" ] || { echo "browser-test: $name not ready within $4 s (no '$re' in its output)" >&2; return 1; }
    sleep 0.1
  done
}

"$build/authgate-demo-backend" --listen 127.0.0.1 --port 0 >"$work/backend.log" 2>&1 &
pids+=($!)
backend_port=$(wait_for_line "$work/backend.log" 'listening on 127\.0\.0\.1:[0-9]+' "${pids[-1]}" 10 | sed 's/.*://')

node "$here/pages.mjs" >"$work/pages.log" 2>&1 &
pids+=($!)
read -r page_a page_b < <(wait_for_line "$work/pages.log" 'pages on [0-9]+ [0-9]+' "${pids[-1]}" 10 | sed 's/pages on //')
[ -n "${page_b:-}" ] || die "page server did not start"

secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat >"$work/authgate.yaml" <<YAML
# Written by tests/browser/run.sh for the real-browser CORS test.
server:
  listen: 127.0.0.1:0
  workers: 1
  timeouts:
    header: 10s
    idle: 30s
    upstream_connect: 2s
    upstream_response: 10s

log:
  level: info
  format: text
  access_log: true

upstreams:
  echo:
    endpoints: [http://127.0.0.1:${backend_port}]
  down:                       # nothing listens on port 1: connect refused -> 502
    endpoints: [http://127.0.0.1:1]

jwt:
  providers:
    browser:
      issuer: https://auth.browser-test.local
      audiences: [browser-api]
      algorithms: [HS256]
      keys:
        secret: \${BROWSER_TEST_JWT_SECRET}
      leeway: 30s
      required_claims: [exp, sub]
      forward_claims:
        sub: X-User-Id

cors:
  policies:
    web:                      # the test page's origin A
      allow_origins: [http://127.0.0.1:${page_a}]
      allow_methods: [GET, POST, PUT, DELETE, OPTIONS]
      allow_headers: [accept, authorization, content-type, x-allowed]
      expose_headers: [X-Request-Id]
      allow_credentials: true
      max_age: 600
    partner:                  # only origin B; no credentials, nothing exposed
      allow_origins: [http://127.0.0.1:${page_b}]
      allow_methods: [GET]
      allow_headers: [content-type]
      allow_credentials: false

routes:
  - name: public
    match:
      path_prefix: /api/public/
    upstream: echo
    cors: web
    auth: none
  - name: admin               # valid token without roles=admin -> 403
    match:
      path_prefix: /api/admin/
    upstream: echo
    cors: web
    auth:
      providers: [browser]
      claims:
        roles: [admin]
  - name: down
    match:
      path_prefix: /api/down/
    upstream: down
    cors: web
    auth: none
  - name: private
    match:
      path_prefix: /api/private/
    upstream: echo
    cors: web
    rewrite:
      strip_prefix: /api/private
    auth:
      providers: [browser]
      mode: required
  - name: partner
    match:
      path_prefix: /partner/
    upstream: echo
    cors: partner
    auth: none
YAML

export BROWSER_TEST_JWT_SECRET="$secret"
"$build/authgate" -c "$work/authgate.yaml" --check >"$work/check.log" 2>&1 || { cat "$work/check.log" >&2; die "test config rejected"; }
"$build/authgate" -c "$work/authgate.yaml" >"$work/authgate.log" 2>&1 &
pids+=($!)
gateway_port=$(wait_for_line "$work/authgate.log" 'listening on 127\.0\.0\.1:[0-9]+' "${pids[-1]}" 10 | sed 's/.*://')

token=$("$build/authgate" token --alg HS256 --secret "$secret" --iss https://auth.browser-test.local \
          --aud browser-api --sub browser-user --ttl 1h)
[ -n "$token" ] || die "could not mint a token"

say "backend :$backend_port, pages :$page_a (allowed) :$page_b (other), authgate :$gateway_port, chromium $("$CHROMIUM" --version 2>/dev/null | head -n 1 || true)"

mkdir -p "$work/profile"
set +e
GATEWAY="http://127.0.0.1:$gateway_port" PAGE_ALLOWED="http://127.0.0.1:$page_a" \
PAGE_OTHER="http://127.0.0.1:$page_b" TOKEN="$token" CHROMIUM="$CHROMIUM" \
USER_DATA_DIR="$work/profile" \
  timeout --kill-after=5 100 node "$here/cors.test.mjs" &
test_pid=$!
pids+=("$test_pid")
wait "$test_pid"
rc=$?
set -e

say "HTTP/1.1 pass finished (exit $rc)"
[ "$rc" = 0 ] || exit 1

# ---- the same checks over TLS + HTTP/2 -------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
        -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$work/key.pem" -out "$work/cert.pem" \
        >"$work/openssl.log" 2>&1 || die "openssl could not make the test certificate"
sed -e "s|^  workers: 1$|  workers: 1\n  tls:\n    cert_file: $work/cert.pem\n    key_file: $work/key.pem\n  http2:\n    enabled: true|" \
    "$work/authgate.yaml" >"$work/authgate-h2.yaml"
grep -q 'http2:' "$work/authgate-h2.yaml" || die "could not write the h2 config"
"$build/authgate" -c "$work/authgate-h2.yaml" --check >"$work/check-h2.log" 2>&1 || { cat "$work/check-h2.log" >&2; die "h2 test config rejected"; }
"$build/authgate" -c "$work/authgate-h2.yaml" >"$work/authgate-h2.log" 2>&1 &
pids+=($!)
h2_port=$(wait_for_line "$work/authgate-h2.log" 'listening on 127\.0\.0\.1:[0-9]+' "${pids[-1]}" 10 | sed 's/.*://')
say "authgate (TLS, h2) :$h2_port"

mkdir -p "$work/profile-h2"
set +e
# Node's own fetch (a control request in one check) must accept the test certificate too.
GATEWAY="https://127.0.0.1:$h2_port" PAGE_ALLOWED="http://127.0.0.1:$page_a" \
PAGE_OTHER="http://127.0.0.1:$page_b" TOKEN="$token" CHROMIUM="$CHROMIUM" \
USER_DATA_DIR="$work/profile-h2" EXPECT_PROTOCOL=h2 NODE_TLS_REJECT_UNAUTHORIZED=0 \
  timeout --kill-after=5 100 node --no-warnings "$here/cors.test.mjs" &
test_pid=$!
pids+=("$test_pid")
wait "$test_pid"
rc=$?
set -e

say "TLS + HTTP/2 pass finished (exit $rc)"
[ "$rc" = 0 ] || exit 1
