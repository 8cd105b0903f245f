# The concierge agent as a LiveKit worker. Build: docker build -t concierge .
# Run:   docker run --env-file .env concierge      (LIVEKIT_URL/KEY/SECRET, model keys, store)
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY concierge ./concierge
# The menu and the schema are package data: the installed wheel needs nothing else.
RUN pip install .
# The worker's health/load endpoint; LiveKit dispatches by the load it reports (see README).
EXPOSE 8081
CMD ["python", "-m", "concierge", "start"]
