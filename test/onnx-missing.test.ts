// Without the optional onnxruntime-node, an ONNX teacher fails with one clear message saying how
// to install it (the package is made unimportable here with a module mock).

import { describe, expect, it, vi } from 'vitest';

vi.mock('onnxruntime-node', () => {
  throw new Error("Cannot find package 'onnxruntime-node'");
});

describe('ONNX teacher without onnxruntime-node', () => {
  it('says how to install it', async () => {
    const { onnxTeacherLogits } = await import('../src/distill/onnx-teacher.js');
    const ds = { name: 't', x: new Float32Array(4), y: new Int32Array(1), n: 1, features: 4, classes: 2 };
    const err = await onnxTeacherLogits('model.onnx', ds, 2).catch((e) => e);
    expect(err.name).toBe('BackendUnavailableError');
    expect(err.message).toMatch(/ONNX teachers need the optional package onnxruntime-node: run `npm install onnxruntime-node`/);
  });
});
