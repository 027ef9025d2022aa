# odecast: one image for the API and the workers (the command picks the part).
#
# Build arguments:
#   PYTHON_IMAGE     base of both stages (default python:3.11-slim). It needs Python >= 3.11; a base
#                    without python3 (the nvidia/cuda images) gets Debian/Ubuntu's python3 installed.
#   TORCH_INDEX_URL  where torch comes from (default: PyTorch's CPU wheels). https://pypi.org/simple
#                    (PyPI's Linux x86_64 wheels are CUDA builds) or one of PyTorch's CUDA indexes,
#                    https://download.pytorch.org/whl/cuXYZ, gives a GPU build. A cuXYZ index must be
#                    one that PyTorch publishes for TORCH_VERSION (pytorch.org/get-started lists them;
#                    cu124, for one, ends at torch 2.6).
#   TORCH_VERSION    the torch release (default 2.13.0, the one the Makefile pins).
#
# CPU image (what `docker build .` gives):
#   docker build -t odecast .
# GPU image: the CUDA wheels carry CUDA's user-space libraries, so the slim base is enough; the host
# needs the NVIDIA driver and the NVIDIA Container Toolkit (docker run --gpus all ...):
#   docker build -t odecast:gpu --build-arg TORCH_INDEX_URL=https://pypi.org/simple .
# The same on an NVIDIA CUDA runtime base (its Ubuntu 24.04 brings Python 3.12):
#   docker build -t odecast:cuda \
#     --build-arg PYTHON_IMAGE=nvidia/cuda:12.8.1-runtime-ubuntu24.04 \
#     --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 .
ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_VERSION=2.13.0

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DEBIAN_FRONTEND=noninteractive

RUN if ! command -v python3 >/dev/null 2>&1; then \
        apt-get update \
        && apt-get install -y --no-install-recommends python3 python3-venv \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# torch first, from its own index: the project's open `torch>=2.2` is then already satisfied and
# pip keeps this build (CPU or CUDA) instead of fetching PyPI's.
RUN pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"

COPY pyproject.toml README.md /src/
COPY models /src/models
COPY service /src/service
COPY worker /src/worker
RUN pip install /src

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV DEBIAN_FRONTEND=noninteractive
RUN if ! command -v python3 >/dev/null 2>&1; then \
        apt-get update \
        && apt-get install -y --no-install-recommends python3 \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && groupadd --system --gid 10001 odecast \
    && useradd --system --uid 10001 --gid odecast --create-home --home-dir /home/odecast \
        --shell /usr/sbin/nologin odecast \
    && mkdir -p /data \
    && chown odecast:odecast /data

COPY --from=builder /opt/venv /opt/venv

# /data belongs to odecast, so a named volume mounted there starts out writable for it.
ENV PATH=/opt/venv/bin:$PATH \
    ODECAST_STORE=/data \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /home/odecast
USER odecast
EXPOSE 8000

# Liveness of the API (slim images have no curl). Worker containers have no HTTP server:
# docker-compose.yml turns this off for them.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["odecast", "api", "--host", "0.0.0.0", "--port", "8000"]
