# The concierge agent as a LiveKit worker. Build: docker build -t concierge .
# Run:   docker run --env-file .env concierge      (LIVEKIT_URL/KEY/SECRET, model keys, store)
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
# The dependencies from the lock (the same versions as every test run, each file hash-checked),
# then the package itself with nothing more: its build backend is in the lock too.
COPY requirements/base.txt requirements/base.txt
RUN pip install --require-hashes -r requirements/base.txt
COPY pyproject.toml README.md ./
COPY concierge ./concierge
# The menu and the schema are package data: the installed wheel needs nothing else.
RUN pip install --no-deps --no-build-isolation --no-index .
# The worker's health/load endpoint; LiveKit dispatches by the load it reports (see README).
EXPOSE 8081
CMD ["python", "-m", "concierge", "start"]
