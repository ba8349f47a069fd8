# rolewatch's daemon: `docker build -t rolewatch .` then see README "Deployment" (or `docker compose up`).
# The build stage installs with the README's own command, `pip install .`, into a venv that the
# runtime stage copies whole: no compiler, no pip cache and no source tree in the final image.
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/rolewatch/bin:$PATH
RUN python -m venv /opt/rolewatch
WORKDIR /src
COPY . .
RUN pip install .

FROM python:3.12-slim
# ROLEWATCH_CONFIG points at the mounted file; SQLite databases and the scheduler's lock file
# land in /data, the working directory. Only the `/config` mount and `/data` volume are written
# by the operator; the image itself stays read-only for the rolewatch user.
ENV PATH=/opt/rolewatch/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ROLEWATCH_CONFIG=/config/rolewatch.yaml \
    ROLEWATCH_DAEMON__HTTP=0.0.0.0:8787
RUN useradd --system --user-group --uid 10001 --home-dir /data --no-create-home rolewatch \
    && mkdir -p /data /config \
    && chown rolewatch:rolewatch /data
COPY --from=build /opt/rolewatch /opt/rolewatch
WORKDIR /data
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8787
# No curl in a slim image: the standard library asks /healthz, and any answer but 200 (or no
# answer within 4 s) makes urlopen raise, so the check exits non-zero.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8787/healthz', timeout=4)"]
# rolewatch runs as PID 1 and handles SIGTERM itself (stop scheduling, finish within
# `daemon.grace`, exit 0). Run with `--init` (compose: `init: true`) to have orphans reaped too.
STOPSIGNAL SIGTERM
ENTRYPOINT ["rolewatch"]
CMD ["run"]
