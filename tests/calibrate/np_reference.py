"""Plain NumPy (float64) statement of the filter's innovation log-likelihood, from the equations.

Independent of ``samurai_core``: its own box conversions and noise terms, written from docs/algorithm.md
(xyah) and the NoiseParams mapping (xywh, xyxy), a textbook Kalman filter with dense matrices and
``np.linalg`` solves, and a Python loop over frames.
"""

from __future__ import annotations

import numpy as np

FIELDS = (
    "std_position",
    "std_size",
    "std_velocity",
    "std_size_velocity",
    "std_measurement",
    "std_aspect",
    "std_aspect_velocity",
    "std_aspect_measurement",
)


def to_z(model: str, box: np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = box
    if model == "xyah":
        return np.array([(x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / (y2 - y1), y2 - y1])
    if model == "xywh":
        return np.array([x1, y1, x2 - x1, y2 - y1])
    return np.array([x1, y1, x2, y2], float)


def to_box(model: str, z: np.ndarray) -> np.ndarray:
    if model == "xyah":
        cx, cy, a, h = z
        return np.array([cx - a * h / 2, cy - h / 2, cx + a * h / 2, cy + h / 2])
    if model == "xywh":
        x, y, w, h = z
        return np.array([x, y, x + w, y + h])
    return np.array(z, float)


def stds(model: str, n: dict, z: np.ndarray):
    """(process[8], measurement[4], initial[8]) standard deviations at position components z."""
    if model == "xyah":
        h = z[3]
        q = [
            n["std_position"] * h,
            n["std_position"] * h,
            n["std_aspect"],
            n["std_size"] * h,
            n["std_velocity"] * h,
            n["std_velocity"] * h,
            n["std_aspect_velocity"],
            n["std_size_velocity"] * h,
        ]
        r = [
            n["std_measurement"] * h,
            n["std_measurement"] * h,
            n["std_aspect_measurement"],
            n["std_measurement"] * h,
        ]
        p0 = [2 * q[0], 2 * q[1], q[2], 2 * q[3], 10 * q[4], 10 * q[5], q[6], 10 * q[7]]
    else:
        w, h = (z[2], z[3]) if model == "xywh" else (z[2] - z[0], z[3] - z[1])
        q = [
            n["std_position"] * w,
            n["std_position"] * h,
            n["std_size"] * w,
            n["std_size"] * h,
            n["std_velocity"] * w,
            n["std_velocity"] * h,
            n["std_size_velocity"] * w,
            n["std_size_velocity"] * h,
        ]
        r = [n["std_measurement"] * s for s in (w, h, w, h)]
        p0 = [2 * v for v in q[:4]] + [10 * v for v in q[4:]]
    return np.array(q), np.array(r), np.array(p0)


def loglik(model: str, noise, boxes: np.ndarray, valid: np.ndarray):
    """(total log-likelihood, predicted boxes [T, 4] (NaN before the start), scored [T])."""
    n = dict(zip(FIELDS, map(float, noise)))
    F = np.eye(8)
    F[:4, 4:] = np.eye(4)
    H = np.eye(4, 8)
    total = 0.0
    x = P = None
    pred = np.full((len(boxes), 4), np.nan)
    scored = np.zeros(len(boxes), bool)
    for t, (box, ok) in enumerate(zip(np.asarray(boxes, float), valid)):
        ok = bool(ok) and np.isfinite(box).all() and box[2] > box[0] and box[3] > box[1]
        if x is None:
            if ok:
                z = to_z(model, box)
                x = np.concatenate([z, np.zeros(4)])
                P = np.diag(stds(model, n, z)[2] ** 2)
            continue
        q, _, _ = stds(model, n, x[:4])
        x = F @ x
        P = F @ P @ F.T + np.diag(q**2)
        pred[t] = to_box(model, x[:4])
        if not ok:
            continue
        _, r, _ = stds(model, n, x[:4])
        y = to_z(model, box) - H @ x
        S = H @ P @ H.T + np.diag(r**2)
        total += -0.5 * (y @ np.linalg.solve(S, y) + np.linalg.slogdet(S)[1] + 4 * np.log(2 * np.pi))
        K = np.linalg.solve(S, H @ P).T
        x = x + K @ y
        P = P - K @ S @ K.T
        scored[t] = True
    return total, pred, scored


def iou(a: np.ndarray, b: np.ndarray) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union
