# syntax=docker/dockerfile:1
# The hostplane image the Helm chart runs (charts/hostplane, image ghcr.io/hostplane/hostplane):
#   docker build -t ghcr.io/hostplane/hostplane:0.1.0 .
#
# Two stages: the release build on Debian bookworm (the project's own platform), then only
# the binary on distroless `cc` (glibc, libgcc, CA certificates; no shell, no package
# manager) as the distroless `nonroot` user 65532, which the chart's securityContext expects.
# The time-zone database is compiled into the binary (jiff's bundled tzdb), TLS is rustls with
# the platform's CA bundle, so nothing else is needed at run time.

FROM rust:1.89-bookworm AS build
WORKDIR /src
# Dependencies first, so that a change of the sources alone reuses their layer.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && for b in convergence licenses panel validate vm6; do echo 'fn main() {}' > benches/$b.rs; done \
    && cargo fetch --locked
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --bin hostplane \
    && install -D -m 0755 target/release/hostplane /out/hostplane

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="hostplane" \
      org.opencontainers.image.description="Kubernetes operator for ispmanager, VMmanager and BILLmanager licensing" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/hostplane /usr/local/bin/hostplane
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/hostplane"]
CMD ["controller"]
