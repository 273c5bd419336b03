# NorthStar server with the dashboard inside: `docker compose up` (see docker-compose.yml).

# Build: the toolchain and the wasm target come from rust-toolchain.toml; the server's build
# script builds the dashboard's browser half and embeds it, so one cargo command is the build.
# The `dist` profile is `release` with LTO across crates (Cargo.toml): a smaller binary.
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
COPY test-support test-support
COPY tests tests
COPY migrations migrations
COPY scripts/runtime-rootfs scripts/runtime-rootfs
RUN cargo build --profile dist --locked -p northstar-server \
    && scripts/runtime-rootfs target/dist/northstar-server /out \
    && chown 65532:65532 /out/var/lib/northstar \
    && chmod 0700 /out/var/lib/northstar

# Run: nothing but the stripped binary (the release profile strips its symbols), the glibc it
# loads and the non-root user's passwd entry (scripts/runtime-rootfs): no shell, no package
# manager, ~36 MB in all. Runs as uid 65532.
FROM scratch AS runtime
COPY --from=build /out /
USER 65532:65532
WORKDIR /var/lib/northstar
ENV PATH=/usr/local/bin \
    NORTHSTAR_BIND=0.0.0.0:8080 \
    NORTHSTAR_DATA_DIR=/var/lib/northstar \
    NORTHSTAR_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["northstar-server", "healthcheck"]
ENTRYPOINT ["northstar-server"]
CMD ["serve"]
