#!/usr/bin/env bash
# A d3rlpy 2.8.1 install kept out of the project's environment (it pins gymnasium 1.0 and pulls gym 0.26), for the
# CQL cross-check (tests/learners/test_cql_d3rlpy.py):
#   bash bench/d3rlpy_env.sh /tmp/d3rlpy_pkg && RAMAC_D3RLPY=/tmp/d3rlpy_pkg make test
# Only what d3rlpy imports is installed, without dependencies; torch, numpy and gymnasium come from .venv.
set -eu
target=${1:-/tmp/d3rlpy_pkg}
pip=".venv/bin/pip"
$pip install -q --no-deps --target "$target" d3rlpy==2.8.1 gym==0.26.2 gym-notices structlog dataclasses-json \
  marshmallow typing-inspect mypy-extensions
$pip install -q --no-deps --only-binary :all: --target "$target" scikit-learn scipy joblib narwhals threadpoolctl
PYTHONPATH="$target" .venv/bin/python -c "import d3rlpy; print('d3rlpy', d3rlpy.__version__, 'in $target')"
