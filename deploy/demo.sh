#!/usr/bin/env bash
# Sets up, builds and runs the demo: the bundled demo backend on 127.0.0.1:9000 and
# authgate on 127.0.0.1:8080 in front of it (config/demo.yaml). Prints curl lines to try;
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh build
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DAUTHGATE_TESTS=OFF -DAUTHGATE_BENCHMARKS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target authgate authgate-demo-backend

export DEMO_JWT_SECRET="${DEMO_JWT_SECRET:-demo-secret-change-me-0123456789abcdef}"
build/authgate -c config/demo.yaml --check

build/authgate-demo-backend --listen 127.0.0.1 --port 9000 &
backend=$!
build/authgate -c config/demo.yaml &
gateway=$!
stop() { kill -TERM "$gateway" "$backend" 2>/dev/null || true; wait "$gateway" "$backend" 2>/dev/null || true; }
trap stop EXIT INT TERM

# Ready when the gateway answers (bounded: 10 s).
for _ in $(seq 1 100); do
  curl -s -o /dev/null http://127.0.0.1:8080/api/public/ && break
  sleep 0.1
done

user=$(build/authgate token --alg HS256 --secret-env DEMO_JWT_SECRET --iss https://auth.demo.local \
        --aud demo-api --sub alice --ttl 1h --claim-json 'roles=["user"]')
admin=$(build/authgate token --alg HS256 --secret-env DEMO_JWT_SECRET --iss https://auth.demo.local \
        --aud demo-api --sub root --ttl 1h --claim-json 'roles=["admin"]')
cat <<TXT

authgate is running on http://127.0.0.1:8080 in front of the demo backend (127.0.0.1:9000).
Try:

  # public route, no token needed
  curl -i http://127.0.0.1:8080/api/public/hello

  # protected route without a token -> 401 missing_token
  curl -i http://127.0.0.1:8080/api/orders

  # with a valid token: the backend sees X-User-Id: alice
  curl -i -H "Authorization: Bearer $user" http://127.0.0.1:8080/api/orders

  # admin route: alice lacks the role -> 403 insufficient_scope; root has it
  curl -i -H "Authorization: Bearer $user" http://127.0.0.1:8080/api/admin/stats
  curl -i -H "Authorization: Bearer $admin" http://127.0.0.1:8080/api/admin/stats

  # CORS preflight answered by the gateway itself
  curl -i -X OPTIONS -H "Origin: http://localhost:3000" \\
       -H "Access-Control-Request-Method: GET" -H "Access-Control-Request-Headers: authorization" \\
       http://127.0.0.1:8080/api/orders

Press Ctrl-C to stop.
TXT
wait "$gateway"
