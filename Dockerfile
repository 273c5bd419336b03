# syntax=docker/dockerfile:1
# NorthStar server with the dashboard inside: `docker compose up` (see docker-compose.yml).

# Build: the toolchain and the wasm target come from rust-toolchain.toml; the server's build
# script builds the dashboard's browser half and embeds it, so one cargo command is the build.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY rust-toolchain.toml ./
RUN rustup toolchain install
COPY Cargo.toml Cargo.lock ./
COPY wire wire
COPY pricing pricing
COPY store store
COPY dashboard dashboard
COPY server server
COPY client-sdk client-sdk
COPY migrations migrations
RUN cargo build --release --locked -p northstar-server \
    && install -D target/release/northstar-server /out/northstar-server \
    && install -d -m 0700 /out/data

# Run: distroless (glibc and CA certificates, no shell, no package manager) and the stripped
# binary (the release profile strips its symbols), as the image's non-root user (uid 65532).
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=build /out/northstar-server /usr/local/bin/northstar-server
COPY --from=build --chown=65532:65532 /out/data /var/lib/northstar
USER 65532:65532
WORKDIR /var/lib/northstar
ENV NORTHSTAR_BIND=0.0.0.0:8080 \
    NORTHSTAR_DATA_DIR=/var/lib/northstar \
    NORTHSTAR_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["northstar-server", "healthcheck"]
ENTRYPOINT ["northstar-server"]
CMD ["serve"]
