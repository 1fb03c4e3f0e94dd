#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The SPIN models of model/ in their fast configuration (model/run.sh
# check): one TAP line per model run; skipped without spin (make deps).
ROOT=$(cd "${SHMK_TEST_DIR:-$(dirname "$0")}/../.." && pwd)
MODEL_BUILD=$(pwd)/model-build exec "$ROOT/model/run.sh" --memlim 512 --time 120 check
