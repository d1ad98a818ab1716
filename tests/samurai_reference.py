"""A plain NumPy/Python statement of the SAMURAI per-frame rules (the test oracle).

Independent of ``samurai_core``: its own float64 Kalman filter written from the equations of
docs/algorithm.md, its own IoU, and loops over frames and tracks that follow the rules one by one, in
the style of the official code. Slow on purpose; used to check ``samurai_core.step`` and the
SAM 2 backend's recorded runs:

    import samurai_reference as ref
    out = ref.run_reference(cfg, cand_boxes, aff, obj, stepped, frame_idx)
    out["chosen"], out["stable"], out["memory_frames"], out["box"]

``cfg`` is anything with the ``SamuraiConfig`` attribute names (the config object itself).
"""

from __future__ import annotations

import math

import numpy as np

MIN_NOISE_SCALE = 1e-2  # the documented clamp of the noise scale (pixels)


# ----------------------------------------------------------------------------- boxes
def box_ok(b) -> bool:
    """Finite with x2 > x1 and y2 > y1."""
    return all(math.isfinite(float(v)) for v in b) and b[2] > b[0] and b[3] > b[1]


def iou(a, b) -> float:
    """IoU of two xyxy boxes; 0 if either is not ok."""
    if not (box_ok(a) and box_ok(b)):
        return 0.0
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def to_z(model: str, b):
    """xyxy box -> measurement vector of the motion model."""
    x1, y1, x2, y2 = (float(v) for v in b)
    w, h = x2 - x1, y2 - y1
    if model == "xyah":
        return np.array([x1 + w / 2, y1 + h / 2, w / h, h])
    if model == "xywh":
        return np.array([x1, y1, w, h])
    return np.array([x1, y1, x2, y2])


def from_z(model: str, p):
    """Measurement vector (first four state components) -> xyxy box."""
    p = [float(v) for v in p[:4]]
    if model == "xyah":
        cx, cy, a, h = p
        w = a * h
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    if model == "xywh":
        x, y, w, h = p
        return np.array([x, y, x + w, y + h])
    return np.array(p)


# ------------------------------------------------------------------------------ Kalman
def noise_stds(model: str, noise, p):
    """(process std[8], measurement std[4], initial std[8]) at position components ``p``.

    "xyah" is docs/algorithm.md verbatim with sp, sv, etc. taken from ``noise``:
    P0 = (2sp·h, 2sp·h, 1e-2, 2sp·h, 10sv·h, 10sv·h, 1e-5, 10sv·h),
    Q = (sp·h, sp·h, 1e-2, sp·h, sv·h, sv·h, 1e-5, sv·h), R = (sp·h, sp·h, 1e-1, sp·h).
    """
    sp, ss = noise.std_position, noise.std_size
    sv, ssv = noise.std_velocity, noise.std_size_velocity
    sm = noise.std_measurement
    if model == "xyah":
        h = max(abs(float(p[3])), MIN_NOISE_SCALE)
        sa, sav, sam = noise.std_aspect, noise.std_aspect_velocity, noise.std_aspect_measurement
        q = [sp * h, sp * h, sa, ss * h, sv * h, sv * h, sav, ssv * h]
        r = [sm * h, sm * h, sam, sm * h]
        p0 = [2 * sp * h, 2 * sp * h, sa, 2 * ss * h, 10 * sv * h, 10 * sv * h, sav, 10 * ssv * h]
        return np.array(q), np.array(r), np.array(p0)
    if model == "xywh":
        w, h = float(p[2]), float(p[3])
    else:
        w, h = float(p[2] - p[0]), float(p[3] - p[1])
    w = max(abs(w), MIN_NOISE_SCALE)
    h = max(abs(h), MIN_NOISE_SCALE)
    q = [sp * w, sp * h, ss * w, ss * h, sv * w, sv * h, ssv * w, ssv * h]
    r = [sm * w, sm * h, sm * w, sm * h]
    p0 = [2 * q[0], 2 * q[1], 2 * q[2], 2 * q[3], 10 * q[4], 10 * q[5], 10 * q[6], 10 * q[7]]
    return np.array(q), np.array(r), np.array(p0)


F = np.eye(8) + np.eye(8, k=4)
HM = np.eye(4, 8)


def kf_initiate(model, noise, box):
    z = to_z(model, box)
    _, _, p0 = noise_stds(model, noise, z)
    return np.concatenate([z, np.zeros(4)]), np.diag(p0**2)


def kf_predict(model, noise, mean, cov):
    q, _, _ = noise_stds(model, noise, mean[:4])
    return F @ mean, F @ cov @ F.T + np.diag(q**2)


def kf_update(model, noise, mean, cov, box):
    _, r, _ = noise_stds(model, noise, mean[:4])
    S = HM @ cov @ HM.T + np.diag(r**2)
    K = np.linalg.solve(S, HM @ cov).T
    mean = mean + K @ (to_z(model, box) - HM @ mean)
    cov = cov - K @ S @ K.T
    return mean, 0.5 * (cov + cov.T)


# ----------------------------------------------------------------------------- tracker
class Track:
    """One track's state, as the official code keeps it on the model (here per track)."""

    def __init__(self):
        self.mean = None
        self.cov = None
        self.stable = 0
        self.history = []  # (frame, aff_chosen, obj, kf_score, kf_valid), oldest first


def _fin(x: float) -> float:
    return float(x) if math.isfinite(float(x)) else -math.inf


def decide(cfg, tr: Track, boxes, aff, obj, frame):
    """Apply rules 1–5 to one track for one frame; returns a dict of this frame's outputs."""
    model, noise = cfg.motion_model, cfg.noise
    M = len(aff)
    usable = [box_ok(boxes[m]) and math.isfinite(float(aff[m])) for m in range(M)]
    affc = [_fin(aff[m]) for m in range(M)]
    objc = _fin(obj)
    present = objc > cfg.min_obj_score_logits
    a = cfg.kf_score_weight
    kf_iou = [0.0] * M
    kf_score, kf_valid = 0.0, False
    pred_box = np.zeros(4)
    updated = False
    started = tr.stable > 0

    def argmax(xs):
        best = 0
        for i in range(1, len(xs)):
            if xs[i] > xs[best]:
                best = i
        return best

    if tr.stable == 0:  # rule 1
        score = list(affc)
        chosen = argmax(score)
        if usable[chosen] and present:
            tr.mean, tr.cov = kf_initiate(model, noise, boxes[chosen])
            tr.stable = 1
            updated = True
    elif tr.stable < cfg.stable_frames_threshold:  # rule 2
        tr.mean, tr.cov = kf_predict(model, noise, tr.mean, tr.cov)
        pred_box = from_z(model, tr.mean)
        score = list(affc)
        chosen = argmax(score)
        if affc[chosen] > cfg.stable_ious_threshold:
            if usable[chosen] and present:
                tr.mean, tr.cov = kf_update(model, noise, tr.mean, tr.cov, boxes[chosen])
                tr.stable += 1
                updated = True
        else:
            tr.stable = 0
    else:  # rule 3
        tr.mean, tr.cov = kf_predict(model, noise, tr.mean, tr.cov)
        pred_box = from_z(model, tr.mean)
        kf_iou = [iou(pred_box, boxes[m]) if usable[m] else 0.0 for m in range(M)]
        score = [a * kf_iou[m] + ((1 - a) * affc[m] if a < 1 else 0.0) for m in range(M)]
        chosen = argmax(score)
        kf_score, kf_valid = kf_iou[chosen], True
        if affc[chosen] < cfg.stable_ious_threshold:
            tr.stable = 0
        elif usable[chosen] and present:
            tr.mean, tr.cov = kf_update(model, noise, tr.mean, tr.cov, boxes[chosen])
            updated = True

    box = from_z(model, tr.mean) if started or updated else None
    tr.history.append((frame, affc[chosen], objc, kf_score, kf_valid))

    # Rule 5, in the official loop's shape: scan newest first, then always add the newest.
    window = tr.history[-cfg.memory_window :]
    kept = []
    for fr, af, ob, ks, kv in reversed(window):
        if (
            af > cfg.memory_bank_iou_threshold
            and ob > cfg.memory_bank_obj_score_threshold
            and (not kv or ks > cfg.memory_bank_kf_score_threshold)
        ):
            kept.insert(0, fr)
        if len(kept) >= cfg.max_obj_ptrs_in_encoder - 1:
            break
    newest = window[-1][0]
    if not kept or kept[-1] != newest:
        kept.append(newest)
    K = cfg.num_maskmem - 1
    memory = list(reversed(kept[-K:]))  # newest first
    return dict(
        chosen=chosen,
        stable=tr.stable,
        score=np.array(score, float),
        kf_iou=np.array(kf_iou),
        kf_score=kf_score,
        kf_valid=kf_valid,
        updated=updated,
        pred_box=pred_box,
        box=np.zeros(4) if box is None else box,
        memory_frames=np.array(memory + [-1] * (K - len(memory))),
    )


def run_reference(cfg, cand_boxes, aff, obj, stepped, frame_idx, restart=None, remove=None):
    """Run the rules over ``T`` frames for ``B`` tracks (all active from the start).

    Args:
      cand_boxes: [T, B, M, 4] xyxy; aff: [T, B, M]; obj: [T, B]; stepped: [T, B] bool;
      frame_idx: [T] int.
      restart: optional [T, B] bool: the track is (re)started just before frame t
        (``add_tracks``); remove: optional [T, B] bool: the track is removed just before frame t.
    Returns:
      dict of arrays with a leading [T, B]: chosen, stable, kf_score, kf_valid, updated,
      score [.., M], kf_iou [.., M], pred_box [.., 4], box [.., 4], memory_frames [.., K].
      Untouched (not stepped or removed) entries: chosen 0, stable unchanged, frames -1, rest 0.
    """
    cand_boxes = np.asarray(cand_boxes, np.float64)
    aff = np.asarray(aff, np.float64)
    obj = np.asarray(obj, np.float64)
    T, B, M, _ = cand_boxes.shape
    K = cfg.num_maskmem - 1
    tracks = [Track() for _ in range(B)]
    active = [True] * B
    out = dict(
        chosen=np.zeros((T, B), int),
        stable=np.zeros((T, B), int),
        kf_score=np.zeros((T, B)),
        kf_valid=np.zeros((T, B), bool),
        updated=np.zeros((T, B), bool),
        score=np.zeros((T, B, M)),
        kf_iou=np.zeros((T, B, M)),
        pred_box=np.zeros((T, B, 4)),
        box=np.zeros((T, B, 4)),
        memory_frames=np.full((T, B, K), -1),
    )
    for t in range(T):
        for b in range(B):
            if restart is not None and restart[t, b]:
                tracks[b], active[b] = Track(), True
            if remove is not None and remove[t, b]:
                tracks[b], active[b] = Track(), False
            if not (active[b] and stepped[t, b]):
                out["stable"][t, b] = tracks[b].stable
                continue
            d = decide(cfg, tracks[b], cand_boxes[t, b], aff[t, b], obj[t, b], int(frame_idx[t]))
            for k, v in d.items():
                out[k][t, b] = v
    return out
