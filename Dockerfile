# The oamflow worker image.
#
#   docker build -t oamflow-worker:0.1.0 .
#   docker run --rm -e TEMPORAL_ADDRESS=temporal.example.com:7233 oamflow-worker:0.1.0
#
# Arguments after the image name go to worker.py (for example `--grace 30`).
# Every download happens in `pip install .` at build time. The running worker
# needs no network access beyond Temporal and the Kubernetes API.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed numeric UID, so that Kubernetes can check `runAsNonRoot` against it.
RUN groupadd --system --gid 10001 oamflow \
    && useradd --system --uid 10001 --gid oamflow \
        --home-dir /home/oamflow --create-home --shell /usr/sbin/nologin oamflow

WORKDIR /app
COPY . /app

# `pip install .` installs the dependencies pinned in pyproject.toml. The worker
# still runs from the source tree in /app, because Python puts the script's
# directory first on sys.path.
# Compiling the sources here keeps start-up fast with a read-only file system.
RUN pip install . \
    && rm -rf /app/build /app/*.egg-info \
    && python -m compileall -q /app \
    && mkdir -p /app/.oamflow \
    && chown oamflow:oamflow /app/.oamflow

USER 10001:10001

# No HEALTHCHECK: the worker serves no traffic and has no health endpoint. It is
# PID 1, so the container stops when the worker exits. Exec form keeps SIGTERM
# going straight to the worker, which then shuts down gracefully.
ENTRYPOINT ["python", "worker.py"]
