#!/bin/bash
# Entry point of the jpq2hw image: source the mounted Xilinx install's settings64.sh, then `jpq2hw synth "$@"`.
# XILINX_ROOT (default /tools/Xilinx) and XILINX_VERSION (default 2023.2) say where: Vitis HLS in
# $XILINX_ROOT/Vitis_HLS/$XILINX_VERSION (up to 2024.1) or $XILINX_ROOT/Vitis/$XILINX_VERSION, Vivado in
# $XILINX_ROOT/Vivado/$XILINX_VERSION.
set -e
case "${1:-}" in
    "" | -h | --help) exec jpq2hw synth --help ;;
esac
root="${XILINX_ROOT:-/tools/Xilinx}"
version="${XILINX_VERSION:-2023.2}"
found=""
for product in Vitis_HLS Vitis Vivado; do
    settings="$root/$product/$version/settings64.sh"
    if [ -f "$settings" ]; then
        # shellcheck disable=SC1090
        source "$settings"
        found="$found $product"
    fi
done
if [ -z "$found" ]; then
    echo "jpq2hw synth: error: no settings64.sh under $root/{Vitis_HLS,Vitis,Vivado}/$version: mount your Xilinx" \
        "install (-v $root:$root:ro) and set XILINX_VERSION" >&2
    exit 2
fi
exec jpq2hw synth "$@"
