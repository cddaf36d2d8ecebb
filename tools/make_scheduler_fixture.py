#!/usr/bin/env python3
"""Writes Tests/Fixtures/scheduler/generator_reference.json: SP-VLA's lightweight generator computed with
numpy on random action buffers, the reference for ReflexCore's SPVLAScheduler.extrapolate.

The generator (arXiv 2506.12723 and its released code's fit_next_action): ridge regression over time,
X = [t, 1] for t = 0..n-1, Y = the buffer's x, y, z; beta = (X^T X + lambda I)^-1 X^T Y with lambda = 1e-4
(solved with numpy.linalg.solve, float64), predicted at t = n; clipped to [-0.9, 0.9]; each axis's change from
the newest action clamped to the largest |change| between neighbours in the buffer; rejected when
|prediction| > 2.5 * max |buffer action| (xyz magnitudes); rotation and gripper copied from the newest action.

Usage: python3 tools/make_scheduler_fixture.py   (numpy only; a fixture tool, not a runtime dependency)
"""
import json
import os

import numpy as np

LAMBDA = 1e-4


def generate(buf):
    buf = np.asarray(buf, dtype=np.float64)
    n = buf.shape[0]
    t = np.arange(n, dtype=np.float64)
    X = np.stack([t, np.ones(n)], axis=1)
    Y = buf[:, :3]
    beta = np.linalg.solve(X.T @ X + LAMBDA * np.eye(2), X.T @ Y)
    pred = np.array([n, 1.0]) @ beta
    pred = np.clip(pred, -0.9, 0.9)
    max_change = np.abs(np.diff(Y, axis=0)).max(axis=0)
    last = Y[-1]
    pred = np.clip(pred, last - max_change, last + max_change)
    largest = np.linalg.norm(Y, axis=1).max()
    if np.linalg.norm(pred) > 2.5 * largest:
        return None
    return list(pred) + list(buf[-1, 3:])


def main():
    rng = np.random.default_rng(20261203)
    cases = []
    for i in range(200):
        n = int(rng.integers(2, 11))
        kind = i % 5
        if kind == 0:    # uniform noise in the normalized range
            buf = rng.uniform(-1, 1, size=(n, 7))
        elif kind == 1:  # a smooth ramp with noise (transit motion)
            start = rng.uniform(-0.5, 0.5, size=7)
            slope = rng.uniform(-0.1, 0.1, size=7)
            buf = start + np.arange(n)[:, None] * slope + rng.normal(0, 0.01, size=(n, 7))
        elif kind == 2:  # tiny actions: the magnitude guard's territory
            buf = rng.normal(0, 1e-3, size=(n, 7))
            buf[-1, :3] *= 0.01
        elif kind == 4:  # a reversal: a straight line through it overshoots (the magnitude guard rejects some)
            a = rng.uniform(0.05, 0.3, size=7) * np.sign(rng.uniform(-1, 1, size=7))
            buf = np.concatenate([np.repeat(-a[None], n - 1, axis=0) * rng.uniform(0.2, 1, size=(n - 1, 1)), a[None]])
        else:            # saturated ramp: the ±0.9 clip
            buf = np.clip(np.linspace(0.2, 1.2, n)[:, None] * np.sign(rng.uniform(-1, 1, size=7)), -1, 1)
            buf = buf + rng.normal(0, 0.005, size=(n, 7))
        buf = buf.astype(np.float32)
        out = generate(buf.astype(np.float64))
        cases.append({"buffer": buf.tolist(), "expected": out})
    rejected = sum(c["expected"] is None for c in cases)
    path = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "scheduler", "generator_reference.json")
    with open(path, "w") as f:
        json.dump({"produced_by": "tools/make_scheduler_fixture.py (numpy %s)" % np.__version__, "lambda": LAMBDA,
                   "cases": cases}, f)
    print(f"wrote {len(cases)} cases ({rejected} rejected by the magnitude guard) to {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
