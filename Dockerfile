# syntax=docker/dockerfile:1
# The one image every role runs: `dumplens operator`, `dumplens api`, and `dumplens restore` in
# the operator's Jobs. Build and push it as the README's "Container image" section says:
#
#   docker build -t ghcr.io/pgdumplens/dumplens:0.1.0 .
#
# No Docker engine runs in CI, so tests/image.rs assembles the same three layers without one
# (umoci) and runs them; it reads the final stage's ENV, USER and ENTRYPOINT from this file and
# checks that the postgres stage runs copy-with-libs.sh as it does.

# The web UI, which the binary embeds.
FROM node:20-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
RUN npm run build

# The release binary, with web/dist embedded (api/build.rs points rust-embed at it). Built on
# Debian 12, as the runtime base is, so it needs no newer glibc than the base has. Symbols are
# stripped: backtraces are not read from production pods.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
COPY --from=web /src/web/dist web/dist
ENV CARGO_PROFILE_RELEASE_STRIP=symbols
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin dumplens \
 && install -D -m 0755 target/release/dumplens /out/usr/local/bin/dumplens

# The runtime base: glibc, libgcc, OpenSSL and CA certificates of Debian 12, the user nonroot
# (65532), no shell and no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime-base

# pg_restore 18 from the official image, which is built with zlib, lz4 and zstd, with every
# library it loads that the runtime base lacks (libpq, lz4, zstd, Kerberos and LDAP for libpq).
# Only pg_restore: the restore runs no other PostgreSQL program. The libraries go where the
# base's loader looks by itself (Debian's multiarch directory), not to a directory named by
# LD_LIBRARY_PATH: the restore runs pg_restore with a cleared environment.
FROM postgres:18-bookworm AS postgres
COPY --from=runtime-base / /base
COPY image/copy-with-libs.sh /usr/local/bin/
RUN copy-with-libs.sh /out /base /usr/lib/$(uname -m)-linux-gnu /usr/lib/postgresql/18/bin/pg_restore=/usr/lib/postgresql/18/bin/pg_restore

FROM runtime-base
LABEL org.opencontainers.image.title="PgDumpLens" \
      org.opencontainers.image.description="Look inside PostgreSQL dumps in a browser" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=postgres /out /
COPY --from=build /out /
# lens finds pg_restore in /usr/lib/postgresql/18/bin as on any Debian; PATH has it for people.
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/postgresql/18/bin
# Numeric, so the kubelet can check runAsNonRoot without reading /etc/passwd. The chart mounts
# an emptyDir at /tmp, the only place any role writes (besides the uploads volume).
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/dumplens"]
