# Services the tests need, started on 127.0.0.1. Sourced by .ci/run (which provides log, ROOT, CACHE and PIDS).
# Each service exports the address the tests read; a test that needs a service skips with a reason when its address
# is unset, except under CI=true, where a missing service is a failure.

JAEGER_VERSION=v1.76.0 # the Go module tag of Jaeger's v2 binary (cmd/jaeger)
SERVICES_DIR=${SERVICES_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/bounded-services.XXXXXX")}

# A port no one listens on, from a range away from the usual defaults.
free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

wait_for() { # url what
  local url=$1 what=$2
  for _ in $(seq 1 100); do
    if curl -fsS "$url" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "$what did not come up at $url" >&2
  return 1
}

apt_install() { # package...
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  else
    sudo apt-get update -qq >/dev/null && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  fi
}

start_jaeger() {
  local bin="$CACHE/jaeger-${JAEGER_VERSION#v}"
  if [ ! -x "$bin" ]; then
    # Not in Debian or npm: built from the Go module proxy once, then cached outside the repository (a few minutes).
    log "building Jaeger ${JAEGER_VERSION} (once; cached in $CACHE)"
    local build="$CACHE/jaeger-build"
    mkdir -p "$build"
    (
      cd "$build"
      [ -f go.mod ] || go mod init jaegertool >/dev/null 2>&1
      go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@${JAEGER_VERSION}" >/dev/null 2>&1
      go build -o "$bin" github.com/jaegertracing/jaeger/cmd/jaeger
    )
  fi
  local otlp query grpc health
  otlp=$(free_port)
  query=$(free_port)
  grpc=$(free_port)
  health=$(free_port)
  JAEGER_OTLP_HTTP_PORT=$otlp JAEGER_QUERY_PORT=$query JAEGER_QUERY_GRPC_PORT=$grpc JAEGER_HEALTH_PORT=$health \
    "$bin" --config "$ROOT/.ci/jaeger.yaml" >"$SERVICES_DIR/jaeger.log" 2>&1 &
  PIDS+=("$!")
  wait_for "http://127.0.0.1:$health/status" Jaeger
  export JAEGER_OTLP_ENDPOINT="http://127.0.0.1:$otlp"
  export JAEGER_QUERY_URL="http://127.0.0.1:$query"
  log "jaeger: OTLP $JAEGER_OTLP_ENDPOINT, query $JAEGER_QUERY_URL"
}

start_prometheus() {
  command -v prometheus >/dev/null || apt_install prometheus
  local port target
  port=$(free_port)
  target=$(free_port)
  mkdir -p "$SERVICES_DIR/prometheus"
  # The tests serve their metrics on $target; Prometheus scrapes it every second.
  cat >"$SERVICES_DIR/prometheus/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: bounded
    static_configs:
      - targets: ["127.0.0.1:$target"]
EOF
  prometheus --config.file="$SERVICES_DIR/prometheus/prometheus.yml" \
    --storage.tsdb.path="$SERVICES_DIR/prometheus/data" \
    --web.listen-address="127.0.0.1:$port" >"$SERVICES_DIR/prometheus.log" 2>&1 &
  PIDS+=("$!")
  wait_for "http://127.0.0.1:$port/-/ready" Prometheus
  export PROMETHEUS_URL="http://127.0.0.1:$port"
  export BOUNDED_PROMETHEUS_TARGET_PORT=$target
  log "prometheus: $PROMETHEUS_URL, scraping 127.0.0.1:$target"
}

start_redis() {
  command -v redis-server >/dev/null || apt_install redis-server
  local port
  port=$(free_port)
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize no \
    >"$SERVICES_DIR/redis.log" 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 1 100); do
    if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = "PONG" ]; then break; fi
    sleep 0.1
  done
  [ "$(redis-cli -p "$port" ping 2>/dev/null)" = "PONG" ] || { echo "redis did not start" >&2; return 1; }
  export REDIS_URL="redis://127.0.0.1:$port"
  log "redis: $REDIS_URL"
}

# Debian's Chromium, for the HTML report's test in a real browser (driven by Playwright; no browser download).
ensure_chromium() {
  command -v chromium >/dev/null || apt_install chromium
  log "chromium: $(command -v chromium)"
}

start_services() {
  start_redis
  start_jaeger
  start_prometheus
  ensure_chromium
}
