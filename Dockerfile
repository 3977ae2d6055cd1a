# syntax=docker/dockerfile:1
# One image for every role of the production shape (docker-compose.yml): `fulfillment api`
# by default, `fulfillment worker` and `fulfillment migrate` by overriding the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The package's sources only, named one by one: there is no .dockerignore, and a plain
# `COPY . .` would bring in .venv, the embedded servers' .data and the tests. Neither the dev
# stack (devstack/) nor the emulators (emulators/) ship, nor the server wheels (the `dev`
# extra): production talks to real PostgreSQL, Redis, Temporal, Stripe and Shippo.
COPY pyproject.toml cli.py cli_endpoints.py cli_support.py worker.py ./
COPY domain/ domain/
COPY models/ models/
COPY workflows/ workflows/
COPY activities/ activities/
COPY api/ api/
COPY providers/ providers/
COPY stores/ stores/
COPY jobs/ jobs/
COPY temporal/ temporal/
COPY migrations/ migrations/

RUN pip install . \
    && rm -rf build ./*.egg-info

# Nothing in the container needs root; the app only writes to its databases.
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin fulfillment
USER fulfillment:fulfillment

EXPOSE 8000

# The CLI binds 127.0.0.1 by default, which nobody outside the container could reach.
CMD ["fulfillment", "api", "--host", "0.0.0.0", "--port", "8000"]
