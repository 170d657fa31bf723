# The finsent worker with onnxruntime-gpu's CUDA provider (CUDA 12 and cuDNN 9 from PyPI wheels).
FROM nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04
RUN apt-get update && apt-get install -y --no-install-recommends python3.11 python3.11-venv \
    && rm -rf /var/lib/apt/lists/*
RUN python3.11 -m venv /opt/finsent
ENV PATH=/opt/finsent/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY streams streams
COPY models models
COPY features features
COPY deploy/clickhouse deploy/clickhouse
# editable: the migrations in deploy/clickhouse are found next to the package
RUN pip install --no-cache-dir -e .
