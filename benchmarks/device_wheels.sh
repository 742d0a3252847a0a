#!/usr/bin/env bash
# Fetches, on this machine, the wheels benchmarks/device_check.sh needs on a lent GPU machine.
#
#   bash benchmarks/device_wheels.sh      # -> .whl/ (git-ignored, about 11 MiB)
#
# The GPU machine has no network; its Python 3.12 image holds jax (CUDA), flax, optax,
# orbax-checkpoint and torch (CUDA), but not the data libraries below. They travel in
# the device call's `carry` (".whl"), at the versions of requirements.lock, and
# device_check.sh installs them there. `promise` exists only as a source archive: it is
# built into a (pure-Python) wheel here.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PACKAGES=(array_record dm-tree dm_pix grain immutabledict ml_collections simple-parsing
          docstring-parser tensorboardX tensorflow-datasets tensorflow-metadata termcolor toml
          googleapis-common-protos portpicker)
PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64
           manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64)

pinned() {  # The requirements.lock line of a package, or its bare name if it has none.
  grep -i -m1 -E "^${1//[-_]/[-_]}==" requirements.lock || echo "$1"
}

mkdir -p .whl
for package in "${PACKAGES[@]}"; do
  "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp ${PLATFORMS[@]/#/--platform } -d .whl "$(pinned "$package")"
done
"$PY" -m pip wheel --quiet --no-deps -w .whl "$(pinned promise)"
ls .whl
