# syntax=docker/dockerfile:1
# Rucksack in a container: the server, and the JavaScript SDK it serves at /sdk.js.
#
#   docker build -t rucksack .
#   docker run -d --name rucksack -p 8080:8080 -v rucksack-data:/data rucksack
#   docker exec rucksack rucksack-server keys list      # the CLI, on the same data
#
# The data directory (database, uploaded files, generated keys) is the volume
# /data; the API key generated on first start is in /data/api_key and in the log.
# Put a TLS-terminating proxy in front (README, "Run it in production").

FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
# The browser SDK's size-optimized build rebuilds the standard library on nightly.
RUN rustup target add wasm32-unknown-unknown \
 && rustup toolchain install nightly --profile minimal --component rust-src \
 && cargo install wasm-pack --version 0.15.1 --locked \
 && cargo install wasm-bindgen-cli --version 0.2.130 --locked
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p reference-server --bin rucksack-server
# binaryen's wasm-opt from npm (Debian's can break the output), then the SDK.
RUN npm ci --prefix npm && npm run build --prefix npm
RUN mkdir -p /out/sdk /out/data \
 && cp -r npm/sdk.js npm/index.js npm/pkg /out/sdk/ \
 && cp target/release/rucksack-server /out/

# glibc and libgcc only: the binary needs nothing else. Runs as an unprivileged user.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/rucksack-server /usr/local/bin/rucksack-server
COPY --from=build /out/sdk /usr/local/share/rucksack
COPY --from=build --chown=nonroot:nonroot /out/data /data
ENV RUCKSACK_LISTEN=0.0.0.0:8080 \
    RUCKSACK_DATA_DIR=/data \
    RUCKSACK_SDK_DIR=/usr/local/share/rucksack \
    RUCKSACK_LOG_FORMAT=json
VOLUME /data
EXPOSE 8080
USER nonroot
ENTRYPOINT ["/usr/local/bin/rucksack-server"]
