# wifiwatch collector image. Runs as a non-root user; ICMP heartbeats need CAP_NET_RAW
# (docker run --cap-drop ALL --cap-add NET_RAW ...); without it the daemon falls back to SNMP reachability
# and says so. The dashboards/ package is installed with it, so `wifiwatch grafana push` works in the image.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-noto-cjk \
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
# One layer: install, add the user, grant the interpreter NET_RAW (and nothing else) for ICMP, then drop
# setcap again. Every step must succeed: an ignored error here once hid a failed pip install.
RUN pip install --no-cache-dir . \
 && (cd / && python3 -c "import dashboards; assert sorted(dashboards.JSON_DIR.glob('*.json'))") \
 && useradd --system --uid 10001 --home /var/lib/wifiwatch --create-home wifiwatch \
 && apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin \
 && setcap cap_net_raw+ep "$(readlink -f "$(command -v python3)")" \
 && apt-get purge -y --auto-remove libcap2-bin \
 && rm -rf /var/lib/apt/lists/*

USER wifiwatch
WORKDIR /var/lib/wifiwatch
ENV WIFIWATCH_CONFIG=/etc/wifiwatch/sites.toml
VOLUME ["/var/lib/wifiwatch"]
EXPOSE 9716
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD python3 -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9716/healthz', timeout=3).status == 200 else 1)"
ENTRYPOINT ["wifiwatch"]
CMD ["run"]
