# syntax=docker/dockerfile:1.7
ARG BASE=debian:12
FROM ${BASE} AS build
# root in a build stage is fine: only the final stage's user ships
RUN apt-get update && \
    apt-get install -y --no-install-recommends \
      # a comment inside a continuation is dropped, as BuildKit does
      ca-certificates curl
RUN curl -fsSLo /tmp/tool.tgz https://example.com/tool.tgz \
 && echo "abc  /tmp/tool.tgz" | sha256sum -c - \
 && tar -C /usr/local -xzf /tmp/tool.tgz
RUN chmod 0755 /usr/local/bin/tool && chmod u-s /usr/bin/passwd && chmod g-s /usr/bin/wall
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/a.tgz /a.tgz
ADD local.tgz /opt/

FROM gcr.io/distroless/static:nonroot
ARG APP_UID=10001
COPY --from=build /usr/local/bin/tool /tool
WORKDIR /app
USER ${APP_UID}:${APP_UID}
ENTRYPOINT ["/tool"]
