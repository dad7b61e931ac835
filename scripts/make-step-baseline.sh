#!/usr/bin/env bash
# Writes the reference weights of test/step-baseline.test.ts: teacher 784-128-10 (dropout 0.1),
# then student 784-32-10 distilled from it, on the built-in digits, seed 1, 2 epochs each, on
# js x1, native x1, native x2, wasm-simd x1, wasm-simd x2. Run once at commit e8adff6 (before the
# one-step refactor); the test trains the same runs with today's code and compares per tensor.
# usage: bash scripts/make-step-baseline.sh OUT_DIR
set -euo pipefail
out="${1:?usage: make-step-baseline.sh OUT_DIR}"
cd "$(dirname "$0")/.."
for cfg in js:1 native:1 native:2 wasm-simd:1 wasm-simd:2; do
  be="${cfg%%:*}" w="${cfg##*:}" dir="$out/$be-x$w"
  rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
  node bin/distill.js teach --layers 784,128,10 --dropout 0.1 --epochs 2 --seed 1 --backend "$be" --workers "$w" --out "$dir.tmp/t" --quiet
  node bin/distill.js student --teacher "$dir.tmp/t/model.safetensors" --layers 784,32,10 --epochs 2 --seed 1 --backend "$be" --workers "$w" --out "$dir.tmp/s" --quiet
  mkdir -p "$dir"
  cp "$dir.tmp/t/model.safetensors" "$dir/teacher.safetensors"
  cp "$dir.tmp/s/model.safetensors" "$dir/student.safetensors"
  rm -rf "$dir.tmp"
done
