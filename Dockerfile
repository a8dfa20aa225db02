# syntax=docker/dockerfile:1
#
# tokentap: transparent OpenAI-compatible metering reverse proxy.
#
#   docker build -t tokentap .
#   docker run --rm -p 8080:8080 -p 9464:9464 -e TOKENTAP_UPSTREAM=http://vllm:8000 tokentap
#   docker run --rm -p 8000:8000 tokentap sim --host 0.0.0.0 --port 8000      # the built-in simulator
#
# Configuration: TOKENTAP_* environment variables (TOKENTAP_UPSTREAM, TOKENTAP_PORT, TOKENTAP_METRICS_PORT,
# TOKENTAP_LOG, ...), command-line flags after the image name, or a YAML file mounted into the container:
#   docker run -v ./tokentap.yaml:/etc/tokentap/config.yaml:ro -e TOKENTAP_CONFIG=/etc/tokentap/config.yaml tokentap
# Precedence: flags > environment > YAML file > defaults.

ARG NODE_IMAGE=node:24-slim

# ---- build: full dependency tree, compile TypeScript to dist/ ------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# `npm ci` runs the `prepare` script (= npm run build), so dist/ exists afterwards.
RUN npm ci --no-audit --no-fund && test -f dist/cli.js

# ---- deps: production dependencies only (no TypeScript, no vitest) ----------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would try to compile, and the compiler is a dev dependency.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# ---- runtime ------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="tokentap" \
      org.opencontainers.image.description="Transparent OpenAI-compatible metering reverse proxy (TTFT, TPOT, ITL, E2E, tokens as Prometheus histograms)" \
      org.opencontainers.image.licenses="MIT"
ENV NODE_ENV=production \
    TOKENTAP_HOST=0.0.0.0 \
    TOKENTAP_METRICS_HOST=0.0.0.0
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
# The node image ships an unprivileged `node` user (uid 1000); nothing in /app is writable by it.
USER node
# 8080: the proxy (OpenAI-compatible API). 9464: /metrics, /healthz, /readyz.
EXPOSE 8080 9464
# Liveness of the process, on the metrics port (slim images have no curl; Node has fetch).
# /readyz would report the upstream's reachability instead, which is not this container's health.
# Containers running `tokentap sim` have no metrics port: override it (docker-compose.yml probes the sim's /health).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.TOKENTAP_METRICS_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The `tokentap` command (bin/tokentap.cjs), with the runtime flag every route gets exactly once: the bin adds
# --max-semi-space-size=4 only when it is missing, and the cluster workers (--workers) inherit it.
# --max-semi-space-size=4: a smaller young generation; measured lower RSS and shorter GC pauses (docs/performance.md).
ENTRYPOINT ["node", "--max-semi-space-size=4", "/app/bin/tokentap.cjs"]
CMD []
