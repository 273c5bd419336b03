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
    && install -D target/release/northstar-server /out/northstar-server

# Run: a small Debian image, a non-root user, nothing but the binary.
FROM debian:bookworm-slim AS runtime
RUN groupadd --system --gid 10001 northstar \
    && useradd --system --uid 10001 --gid northstar --home-dir /var/lib/northstar --create-home northstar
COPY --from=build /out/northstar-server /usr/local/bin/northstar-server
USER northstar:northstar
WORKDIR /var/lib/northstar
ENV NORTHSTAR_BIND=0.0.0.0:8080 \
    NORTHSTAR_DATA_DIR=/var/lib/northstar \
    NORTHSTAR_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["northstar-server", "healthcheck"]
ENTRYPOINT ["northstar-server"]
CMD ["serve"]
