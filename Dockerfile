# syntax=docker/dockerfile:1
# One image for the gateway, the flusher and the demo upstream (pick the command). Multi-stage: build with dev
# dependencies, ship only what runs.

FROM node:20-bookworm-slim AS build
WORKDIR /app
ENV TURBO_TELEMETRY_DISABLED=1 NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
# Manifests first, so dependency installation is cached until one of them changes.
COPY package.json package-lock.json turbo.json tsconfig.json ./
COPY packages/core/package.json packages/core/
COPY packages/redis/package.json packages/redis/
COPY packages/express/package.json packages/express/
COPY packages/fastify/package.json packages/fastify/
COPY packages/ledger/package.json packages/ledger/
COPY apps/gateway/package.json apps/gateway/
COPY apps/flusher/package.json apps/flusher/
# --ignore-scripts: the root `prepare` (turbo build) needs the sources, copied below.
RUN npm ci --ignore-scripts
COPY packages packages
COPY apps apps
RUN npx turbo run build --filter=@tollgate/gateway... --filter=@tollgate/flusher... \
 && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
# Workspace packages are symlinked from node_modules/@tollgate: their dist/, package.json and migrations/.
COPY --from=build /app/packages packages
COPY --from=build /app/apps apps
# Embedded mode (no DATABASE_URL) keeps PGlite and the demo secret here.
RUN mkdir -p /app/.tollgate && chown node:node /app/.tollgate
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "apps/gateway/dist/main.js"]
