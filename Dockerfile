# wifiwatch collector image. Runs as a non-root user; ICMP heartbeats need CAP_NET_RAW
# (docker run --cap-add NET_RAW ...), without it the daemon falls back to SNMP reachability and says so.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-noto-cjk libcap2-bin \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY core ./core
COPY collector ./collector
COPY analytics ./analytics
COPY maps ./maps
COPY wifiwatch ./wifiwatch
COPY dashboards ./dashboards
COPY config ./config
RUN pip install --no-cache-dir . \
 && useradd --system --uid 10001 --home /var/lib/wifiwatch --create-home wifiwatch \
 && setcap cap_net_raw+ep "$(readlink -f "$(command -v python3)")" || true

USER wifiwatch
WORKDIR /var/lib/wifiwatch
ENV WIFIWATCH_CONFIG=/etc/wifiwatch/sites.toml
VOLUME ["/var/lib/wifiwatch"]
EXPOSE 9716
HEALTHCHECK --interval=30s --timeout=5s CMD python3 -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9716/healthz', timeout=3).status == 200 else 1)"
ENTRYPOINT ["wifiwatch"]
CMD ["run"]
