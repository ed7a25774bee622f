# syntax=docker/dockerfile:1
# One image, two parts: `docker run IMAGE control-plane` or `docker run -e LEAKGATE_UPSTREAM=… IMAGE node`
# (deploy/compose.yaml runs a whole deployment from it).

FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# tini reaps children and forwards SIGTERM (the node drains on it); git serves `leakgate scan --history`.
RUN apt-get update && apt-get install -y --no-install-recommends tini git ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    LEAKGATE_DATA_DIR=/data \
    LEAKGATE_CACHE_DIR=/data/node
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/config ./config
RUN mkdir -p /data/node && chown -R node:node /data
USER node
VOLUME ["/data"]
# control plane 8080; node proxy 8000 and its admin port (metrics, health) 9100
EXPOSE 8080 8000 9100
# Checks the part the container runs (read from its command line): the control plane's /readyz; a node's
# admin /healthz and its proxy port; so a node whose proxy port is gone is unhealthy.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["node", "dist/healthcheck.js"]
ENTRYPOINT ["tini", "--", "node", "dist/cli.js"]
CMD ["control-plane"]
