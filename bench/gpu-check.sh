#!/usr/bin/env bash
# What a lent GPU machine should run, in one command: build the addons with CUDA
# (DISTILLERY_CUDA=ON, so a missing nvcc is an error), run the conformance suite and the gradient
# checks with the cuda backend required, then the KD-step benchmark on workload W at N=128 and
# N=4096 on cuda (and native, for comparison). Needs no network: run it in a checkout where
# `npm install` already ran (node_modules present).
# Usage: bash bench/gpu-check.sh   (env: STEPS=20, BATCHES=128,4096)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules/cmake-js ]; then
  echo "gpu-check: node_modules is missing; run npm install first (with network)" >&2
  exit 2
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || echo "gpu-check: nvidia-smi not found"
echo "== build (DISTILLERY_CUDA=ON)"
DISTILLERY_CUDA=ON node scripts/build-native.mjs --strict
npx tsc -p tsconfig.json
echo "== probe"
node -e "const a=require('./build/native/Release/distillery_cuda.node'); console.log(JSON.stringify(a.probe()))"
echo "== conformance + gradcheck, cuda required"
DISTILLERY_REQUIRE_BACKENDS=cuda,native npx vitest run test/conformance.test.ts test/gradcheck.test.ts
echo "== KD step on W (cuda, native)"
node bench/kd-step.mjs --backend cuda,native --batch "${BATCHES:-128,4096}" --steps "${STEPS:-20}" --warmup 3
