# mappa-intake: one image, two processes (the daemon and the console), as two containers.
#   docker build -t mappa-intake .
#   docker run --env-file mappa-intake.env -v /srv/mappa:/var/lib/mappa-intake \
#     -v /etc/mappa-intake:/etc/mappa-intake:ro mappa-intake                    # the daemon
#   docker run ... -p 127.0.0.1:8080:8080 mappa-intake console --config /etc/mappa-intake/mappa-intake.toml
# See docs/operations.md, "Containers".
FROM python:3.11-slim-bookworm

# Tesseract reads scanned (image-only) forms; nothing else comes from outside PyPI.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      tesseract-ocr tesseract-ocr-eng \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/mappa-intake
COPY pyproject.toml constraints.txt README.md ./
COPY app ./app
COPY parsers ./parsers
COPY triage ./triage
COPY intake ./intake
COPY responders ./responders
COPY records ./records
COPY console ./console
# The locked versions only (constraints.txt), the runtime dependencies only (no test tools).
RUN pip install --no-cache-dir -c constraints.txt . \
 && useradd --system --home-dir /var/lib/mappa-intake --shell /usr/sbin/nologin mappa-intake \
 && install -d -o mappa-intake -g mappa-intake -m 0700 /var/lib/mappa-intake

USER mappa-intake
WORKDIR /var/lib/mappa-intake
VOLUME ["/var/lib/mappa-intake"]
# The console listens on console.port (set console.host = "0.0.0.0" inside a container, and
# publish the port on loopback only, behind the council's TLS proxy); the daemon's /healthz and
# /metrics on health.port.
EXPOSE 8080 9464
ENTRYPOINT ["mappa-intake"]
CMD ["run", "--config", "/etc/mappa-intake/mappa-intake.toml"]
