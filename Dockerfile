# One image for every service: SERVICES chooses what a container runs (see docker-compose.yml).

# --- build: install everything, compile the server and the front end, drop dev dependencies
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY frontend/package.json frontend/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json moleculer.config.ts ./
COPY platform platform
COPY mixins mixins
COPY services services
COPY tools tools
COPY frontend frontend
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# --- runtime: compiled JavaScript only, as the unprivileged `node` user
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    LOG_FORMAT=json \
    SERVICEDIR=dist/services
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules node_modules
COPY --from=build --chown=node:node /app/dist dist
COPY --from=build --chown=node:node /app/frontend/dist frontend/dist
USER node
EXPOSE 3000
# moleculer-runner handles SIGTERM through the config's graceful stop; no shell in between.
CMD ["node", "--max-semi-space-size=8", "node_modules/moleculer/bin/moleculer-runner.js", "--config", "dist/moleculer.config.js"]
