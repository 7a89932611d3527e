# authgate: multi-stage build on Debian 12; the runtime image holds the binary, its shared
# libraries and the example configs, and runs as an unprivileged user.
FROM debian:12 AS build
WORKDIR /src
COPY deploy/install-deps.sh deploy/install-deps.sh
RUN bash deploy/install-deps.sh build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DAUTHGATE_TESTS=OFF -DAUTHGATE_BENCHMARKS=OFF \
 && cmake --build build --target authgate authgate-demo-backend \
 && strip build/authgate build/authgate-demo-backend

FROM debian:12-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libboost-json1.81.0 libyaml-cpp0.7 libspdlog1.10 libfmt9 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin authgate
COPY --from=build /src/build/authgate /src/build/authgate-demo-backend /usr/local/bin/
COPY config/ /etc/authgate/
USER authgate
EXPOSE 8080
# SIGTERM drains in-flight requests (server.timeouts.shutdown) and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/authgate"]
# Mount your config at /etc/authgate/authgate.yaml (config/example.yaml shows every key).
CMD ["-c", "/etc/authgate/authgate.yaml"]
