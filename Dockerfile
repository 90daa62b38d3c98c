# jpq2hw with your own Xilinx tools: `jpq2hw synth OUT --docker IMAGE` runs C-synthesis, IP export and the
# bitstream of a project made by `jpq2hw build` in this image. The image holds no Xilinx software: mount your
# install read-only at the same path (XILINX_ROOT) and pass your license (XILINXD_LICENSE_FILE, or ~/.Xilinx).
# See docs/synth.md.
#
#   docker build -t jpq2hw-synth .                                   (optionally --build-arg XILINX_VERSION=2024.1)
#   jpq2hw synth OUT --docker jpq2hw-synth --stage csynth --dry-run  (prints the exact `docker run`)
#
# bookworm, not the newest slim: the Xilinx tools need libtinfo5 / libncurses5, which later Debian releases dropped.
FROM python:3.11-slim-bookworm

ARG XILINX_ROOT=/tools/Xilinx
ARG XILINX_VERSION=2023.2
ENV XILINX_ROOT=${XILINX_ROOT} \
    XILINX_VERSION=${XILINX_VERSION} \
    HOME=/home/jpq2hw \
    LANG=C.UTF-8 \
    LC_ALL=C.UTF-8 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# g++ and make for hls4ml's C++; the rest are libraries Vitis HLS and Vivado load but do not ship.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        g++ make libtinfo5 libncurses5 libx11-6 libxext6 libxrender1 libxtst6 libxi6 libfreetype6 fontconfig \
        procps \
    && rm -rf /var/lib/apt/lists/*

# torch first (the pinned version jpq2hw's compress step uses), then the package.
RUN pip install --no-cache-dir torch==2.13.0

WORKDIR /opt/jpq2hw
COPY pyproject.toml README.md ./
COPY jpq2hw ./jpq2hw
COPY templates ./templates
COPY boards ./boards
COPY docker/entrypoint.sh /usr/local/bin/jpq2hw-entrypoint
# Editable: jpq2hw reads templates/ and boards/ from beside the package. HOME is world-writable because
# `jpq2hw synth --docker` runs the container as the caller's uid:gid.
RUN pip install --no-cache-dir -e . \
    && mkdir -p /home/jpq2hw \
    && chmod 1777 /home/jpq2hw \
    && chmod 755 /usr/local/bin/jpq2hw-entrypoint

ENTRYPOINT ["/usr/local/bin/jpq2hw-entrypoint"]
CMD ["--help"]
