# authgate: multi-stage build on Debian 12 (base images pinned to a point release).
#   docker build -t authgate .                                  -> the gateway (last stage)
#   docker build --target demo-backend -t authgate-demo-backend . -> the demo backend only
# The runtime image holds the binary, its shared libraries and a default config at the
# CMD path (deploy/container/authgate.yaml, configured by AUTHGATE_* environment
# variables), and runs as the numeric user 10001:10001 so that Kubernetes' runAsNonRoot
# can verify it. The image has no HTTP client (no curl): its HEALTHCHECK is the binary's
# own `authgate health`, on the baked config's admin port (9901).
FROM debian:12.8 AS build
WORKDIR /src
COPY deploy/install-deps.sh deploy/install-deps.sh
RUN bash deploy/install-deps.sh build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DAUTHGATE_TESTS=OFF -DAUTHGATE_BENCHMARKS=OFF \
 && cmake --build build --target authgate authgate-demo-backend \
 && strip build/authgate build/authgate-demo-backend

# Shared by the gateway and the demo backend: runtime libraries and the unprivileged user.
FROM debian:12.8-slim AS runtime
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libboost-json1.81.0 libboost-program-options1.81.0 libboost-url1.81.0 \
      libyaml-cpp0.7 libspdlog1.10 libfmt9 libssl3 ca-certificates \
      libnghttp2-14 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 authgate \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin authgate

# Only for docker-compose.yaml's demo; never part of the gateway image.
FROM runtime AS demo-backend
COPY --from=build /src/build/authgate-demo-backend /usr/local/bin/
USER 10001:10001
EXPOSE 9000
ENTRYPOINT ["/usr/local/bin/authgate-demo-backend", "--listen", "0.0.0.0", "--port", "9000"]

FROM runtime AS authgate
COPY --from=build /src/build/authgate /usr/local/bin/
COPY deploy/container/authgate.yaml /etc/authgate/authgate.yaml
COPY config/ /usr/share/authgate/examples/
COPY LICENSE docs/configuration.md docs/operations.md /usr/share/doc/authgate/
USER 10001:10001
# 8080 traffic; 9901 admin (/healthz, /readyz, /metrics): probe it, do not publish it.
EXPOSE 8080 9901
# SIGTERM: /readyz 503 at once, serving on for server.timeouts.drain_delay, then in-flight
# requests drain (server.timeouts.shutdown) and the process exits 0.
STOPSIGNAL SIGTERM
# /readyz: 503 until the JWKS is fetched and while draining, so the container reads
# "unhealthy" exactly when it should get no traffic. A mounted config must keep
# admin.listen on port 9901 (or override HEALTHCHECK).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/authgate", "health", "http://127.0.0.1:9901/readyz"]
ENTRYPOINT ["/usr/local/bin/authgate"]
# Mount your own config over /etc/authgate/authgate.yaml for anything beyond the defaults.
CMD ["-c", "/etc/authgate/authgate.yaml"]
