# The SocketMessenger relay in a container (README.md, "Running it as a service").
#
#   docker build -t smsg-relay .
#   docker run -d --name smsg-relay -p 7447:7447 -v smsg-relay-data:/data smsg-relay
#   docker logs smsg-relay                       # the relay key's fingerprint and the first admin invite
#   docker exec smsg-relay smsg relay invite     # operator commands, through /data/admin.sock
#   docker stop smsg-relay                       # SIGTERM: a clean stop (exit 0) within 8 s
#
# PostgreSQL instead of the embedded database: add -e DATABASE_URL=postgres://user@host/db.
# Invite links name the host clients connect to: add --public-host chat.example.org to the
# arguments (after the image name, together with the defaults below, which they replace).

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY . .
# npm ci compiles to dist/ (the prepare script); then only runtime dependencies are kept.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production SMSG_RELAY_DATA=/data SMSG_LOG_LEVEL=info
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/migrations ./migrations
# The image's own unprivileged user (uid 1000), owning only the data volume.
RUN mkdir -p /data && chown node:node /data && chmod 0700 /data \
    && ln -s /app/dist/bin/smsg.js /usr/local/bin/smsg && chmod 0755 /app/dist/bin/smsg.js
USER node
VOLUME ["/data"]
EXPOSE 7447
# node is PID 1 and handles SIGTERM and SIGINT itself (relay/stop-signals.ts): docker stop
# gets a clean stop; the relay starts no child processes, so there is nothing to reap.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:7448/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/bin/smsg.js", "relay", "serve"]
# The health endpoint stays on the container's loopback: HEALTHCHECK runs inside it.
CMD ["--data", "/data", "--host", "0.0.0.0", "--port", "7447", "--http", "127.0.0.1:7448"]
