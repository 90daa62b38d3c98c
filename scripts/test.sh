#!/usr/bin/env bash
# Install jpq2hw with its test dependencies and run the whole test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check torch==2.13.0 -e ".[test]"
command -v g++ >/dev/null || { echo "g++ is required (apt-get install -y g++)"; exit 1; }
command -v yosys >/dev/null && command -v iverilog >/dev/null || { apt-get update -qq && apt-get install -y -qq yosys iverilog; }
python -m pytest -q -p no:cacheprovider "$@"
