#!/bin/bash
# Issue 4's start-up comparison in one interleaved run: stockade with its
# hardened default (`stockade spec`), crun with runc's bare config, crun
# with a Docker-like config, and stockade with the bare config for reference.
#
#   sudo bench/startup-hardened.sh [N] [STOCKADE] [CRUN]
#   sudo PERF_RUNS=30 bench/startup-hardened.sh 100     # plus CPU time per run
#
# See bench/startup.sh for the configs and the method.
set -euo pipefail
N=${1:-100}
S=${2:-target/release/stockade}
C=${3:-/usr/bin/crun}
exec "$(dirname "$0")/startup.sh" "$N" "$S@hardened" "$C" "$C@docker" "$S"
