# Switchboard: one image for web (granian), Celery worker and Celery beat.

# The front-end packages (Pico CSS), exactly as package-lock.json pins them.
FROM node:20-slim AS assets
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

FROM python:3.12-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DATA_DIR=/app/var VENV_BIN=/usr/local/bin HOST=0.0.0.0 PORT=8000

WORKDIR /app
COPY requirements/base.lock requirements/base.lock
RUN pip install --no-cache-dir "uv==0.13.9" \
 && uv pip sync --system --no-cache requirements/base.lock \
 && useradd --system --uid 10001 --home /app switchboard

COPY . .
COPY --from=assets /assets/node_modules node_modules
# Static files are collected at build time (no secret needed: the key is only read at run time).
RUN SECRET_KEY=build-only-not-a-secret DATA_DIR=/tmp/build python manage.py collectstatic --no-input -v0 \
 && mkdir -p /app/var && cp -r /tmp/build/staticfiles /app/var/staticfiles \
 && chown -R switchboard /app/var && rm -rf /tmp/build

USER switchboard
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz').status == 200 else 1)"
CMD ["bin/serve"]
