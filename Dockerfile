# agenwork image: one image for web (gunicorn), worker and beat (celery) and migrate.
#   docker build -t agenwork .
# The same image runs every role; docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AGENWORK_VAR_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles \
    PORT=8000

WORKDIR /app

# Dependencies first, so that a code change does not reinstall them: the list in pyproject.toml,
# then the project itself without dependencies.
COPY pyproject.toml ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

# collectstatic needs settings, not secrets or a database: throw-away keys for the build only.
COPY . .
RUN pip install --no-deps . \
    && SECRET_KEY=collectstatic-only-not-a-real-key ENCRYPTION_KEY=collectstatic-only-not-a-real-key \
       DEBUG=false python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin agenwork \
    && mkdir -p /app/var/mail /app/var/broker /app/var/broker-processed /app/var/broker-control \
    && chown -R agenwork:agenwork /app/var

USER agenwork
EXPOSE 8000

# WEB_CONCURRENCY (gunicorn's own variable) sets the number of workers; default 3.
CMD ["sh", "-c", "exec gunicorn agenwork.wsgi --bind 0.0.0.0:${PORT} --workers ${WEB_CONCURRENCY:-3} --access-logfile -"]
