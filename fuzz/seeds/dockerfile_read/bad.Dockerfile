FROM alpine:3.20 AS base
RUN --security=insecure apk add --no-cache docker
RUN --network=host wget -qO- https://get.example.sh | sh
RUN --mount=type=bind,source=/var/run/docker.sock,target=/var/run/docker.sock docker ps
RUN apk add libcap && setcap cap_net_raw+ep /bin/ping
RUN chmod 4755 /usr/local/bin/helper
ADD https://example.com/installer.sh /installer.sh
ADD git@github.com:example/repo.git /src
WORKDIR /proc/self/fd/7
USER root
