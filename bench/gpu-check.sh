#!/usr/bin/env bash
# What a lent GPU machine should run, in one command: build the addons with CUDA (nvcc required),
# run every kernel's conformance cases and whole-model gradient checks on cuda (and native, for
# comparison) with scripts/gpu-check.mjs, then time the KD steps (workload W; workload C when the
# bench has it) on cuda and native.
#
# Works on a bare machine with no network: it needs only cmake, a C++ compiler and nvcc there,
# plus what travels with the checkout:
#   dist/                  (npm run build:ts, here)
#   .gpu/node.xz           (xz -c "$(command -v node)" > .gpu/node.xz; used when node is missing)
#   .gpu/node-api-headers, .gpu/node-addon-api   (copies of those npm packages, for the build)
#   .gpu/node_modules/     (piscina, csv-parse: what bin/distill.js imports)
# With node_modules present (npm install ran there), none of .gpu/ is needed.
# Usage: bash bench/gpu-check.sh   (env: BATCHES=128,4096, CUDA_ARCHS=90, OUT=folder for logs)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-.}"
if ! command -v node >/dev/null; then
  if [ -f .gpu/node.xz ]; then
    mkdir -p /tmp/gpu-node && xz -dc .gpu/node.xz > /tmp/gpu-node/node && chmod +x /tmp/gpu-node/node
    export PATH="/tmp/gpu-node:$PATH"
  else
    echo "gpu-check: no node and no .gpu/node.xz" >&2; exit 2
  fi
fi
[ -d node_modules ] || { [ -d .gpu/node_modules ] && cp -r .gpu/node_modules node_modules; }
echo "node $(node -v)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || echo "gpu-check: nvidia-smi not found"
command -v nvcc >/dev/null && nvcc --version | tail -2

echo "== build (CUDA required)"
t0=$(date +%s)
if [ -d node_modules/cmake-js ]; then
  DISTILLERY_CUDA=ON node scripts/build-native.mjs --strict 2>&1 | tee "$OUT/build.log" | tail -25 || exit 3
else
  inc="$PWD/.gpu/node-api-headers/include;$PWD/.gpu/node-addon-api"
  { cmake -S . -B build/cmake-gpu -DCMAKE_BUILD_TYPE=Release -DDISTILLERY_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHS:-90}" \
      "-DCMAKE_JS_INC=$inc" "-DCMAKE_LIBRARY_OUTPUT_DIRECTORY=$PWD/build/native/Release" &&
    cmake --build build/cmake-gpu -j "$(nproc)"; } > "$OUT/build.log" 2>&1
  rc=$?
  tail -40 "$OUT/build.log"
  [ $rc -eq 0 ] || { echo "gpu-check: build failed ($rc)"; exit 3; }
fi
echo "build: $(( $(date +%s) - t0 )) s"
node -e "const a=require('./build/native/Release/distillery_cuda.node'); console.log(JSON.stringify(a.probe()))"

echo "== conformance + layer gradients (cuda, native)"
node scripts/gpu-check.mjs --backends cuda,native 2>&1 | tee "$OUT/conformance.log"
conf=${PIPESTATUS[0]}

echo "== KD steps (cuda, native)"
ops=kd_step
node bin/distill.js bench --help | grep -q kd_step_cnn && ops=kd_step,kd_step_cnn
timeout 240 node bin/distill.js bench --backend cuda,native --ops "$ops" --batch "${BATCHES:-128,4096}" --workers 1 --steps 20 --html - --json > "$OUT/bench.json" 2> "$OUT/bench.err"
echo "bench exit $?"; tail -5 "$OUT/bench.err"; cat "$OUT/bench.json"
exit $conf
