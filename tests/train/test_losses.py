"""SAM 2's losses against a NumPy statement of the same equations."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from samurai.train.losses import LossWeights, frame_losses  # noqa: E402


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _oracle(logits, ious, obj, target, w=LossWeights()):
    """Per object: focal/dice of the best candidate by 20·focal + dice, mean |pred - actual IoU|
    over candidates, BCE of the object logit; mask terms zero for absent objects; / N."""
    n, m = ious.shape
    out = {"focal": 0.0, "dice": 0.0, "iou": 0.0, "obj": 0.0}
    for i in range(n):
        t = target[i].astype(np.float64)
        present = float(t.any())
        focal, dice, iou_err = [], [], []
        for j in range(m):
            x = logits[i, j].astype(np.float64)
            p = _sigmoid(x)
            bce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
            p_t = p * t + (1 - p) * (1 - t)
            a_t = 0.25 * t + 0.75 * (1 - t)
            focal.append(np.mean(a_t * (1 - p_t) ** 2 * bce))
            dice.append(1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1))
            pred = x > 0
            union = (pred | (t > 0)).sum()
            iou = (pred & (t > 0)).sum() / max(union, 1)
            iou_err.append(abs(ious[i, j] - iou))
        best = int(np.argmin(w.focal * np.array(focal) + w.dice * np.array(dice)))
        out["focal"] += present * focal[best] / n
        out["dice"] += present * dice[best] / n
        out["iou"] += present * np.mean(iou_err) / n
        q = _sigmoid(obj[i, 0])
        out["obj"] += -(present * np.log(q) + (1 - present) * np.log(1 - q)) / n
    out["total"] = w.focal * out["focal"] + w.dice * out["dice"] + w.iou * out["iou"] + w.obj * out["obj"]
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_frame_losses_match_numpy_oracle(seed):
    rng = np.random.default_rng(seed)
    n, m, h, w = 3, 3, 12, 10
    logits = rng.normal(0, 2, (n, m, h, w)).astype(np.float32)
    ious = rng.uniform(0, 1, (n, m)).astype(np.float32)
    obj = rng.normal(0, 2, (n, 1)).astype(np.float32)
    target = np.zeros((n, h, w), dtype=np.float32)
    target[0, 2:8, 3:7] = 1
    target[1, 5:, :4] = 1  # object 2 absent: no mask terms, obj target 0
    got = frame_losses(
        torch.from_numpy(logits), torch.from_numpy(ious), torch.from_numpy(obj), torch.from_numpy(target)
    )
    want = _oracle(logits, ious, obj, target)
    for key, value in want.items():
        assert float(got[key]) == pytest.approx(value, rel=1e-5, abs=1e-7), key


def test_gradient_flows_only_through_the_best_candidate():
    rng = np.random.default_rng(3)
    logits = torch.tensor(rng.normal(0, 1, (1, 3, 8, 8)), dtype=torch.float32, requires_grad=True)
    target = torch.zeros(1, 8, 8)
    target[0, 2:6, 2:6] = 1
    with torch.no_grad():
        logits[0, 1] = 8 * (target[0] * 2 - 1)  # candidate 1 is near perfect
    terms = frame_losses(logits, torch.zeros(1, 3), torch.zeros(1, 1), target, LossWeights(iou=0.0, obj=0.0))
    terms["total"].backward()
    grad = logits.grad.abs().flatten(2).sum(-1)[0]
    assert grad[1] > 0 and grad[0] == 0 and grad[2] == 0
