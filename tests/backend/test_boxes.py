"""Candidate boxes from masks (torch, vectorised) against a NumPy argwhere oracle and the
core's definition of a mask's box (``samurai_core.mask_to_box``)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import samurai_core as sc  # noqa: E402
from samurai_common.boxes import (  # noqa: E402
    boxes_from_extrema,
    boxes_from_masks,
    candidates_to_host,
    index_tensors,
)


def _oracle(logits: np.ndarray) -> np.ndarray:
    """Per mask: min/max of np.argwhere(mask > 0), as the official SAMURAI code computes it."""
    flat = logits.reshape(-1, *logits.shape[-2:])
    out = np.zeros((flat.shape[0], 4), np.float32)
    for i, m in enumerate(flat):
        nz = np.argwhere(m > 0)
        if len(nz):
            (y0, x0), (y1, x1) = nz.min(0), nz.max(0)
            out[i] = [x0, y0, x1, y1]
    return out.reshape(*logits.shape[:-2], 4)


def _random_masks(shape, seed=0):
    rng = np.random.default_rng(seed)
    logits = np.full(shape, -1.0, np.float32)
    flat = logits.reshape(-1, *shape[-2:])
    for i, m in enumerate(flat):
        kind = i % 5
        if kind == 0:
            continue  # empty mask -> zero box
        if kind == 1:
            m[rng.integers(shape[-2]), rng.integers(shape[-1])] = 3.0  # one pixel
        elif kind == 2:
            m[:] = 0.5  # full mask
        else:
            m[rng.random(m.shape) > 0.9] = 1.0  # scattered pixels
    return logits


@pytest.mark.parametrize("shape", [(2, 3, 32, 48), (1, 1, 7, 5), (4, 17, 9), (2, 3, 16, 16)])
def test_boxes_match_argwhere_oracle(shape):
    logits = _random_masks(shape)
    got = boxes_from_masks(torch.from_numpy(logits))
    assert got.dtype == torch.float32 and got.shape == (*shape[:-2], 4)
    np.testing.assert_array_equal(got.numpy(), _oracle(logits))


def test_zero_logit_is_background():
    logits = torch.zeros(1, 4, 4)
    logits[0, 1, 2] = 1e-6
    assert boxes_from_masks(logits).tolist() == [[2.0, 1.0, 2.0, 1.0]]


@pytest.mark.parametrize("shape", [(1, 3, 16, 16), (1, 2, 9, 13), (1, 1, 3, 7, 5)])
def test_host_boxes_from_extrema_match_oracle(shape):
    """The backends' split path (maxima in torch, boxes in NumPy), square or not."""
    parts = [_random_masks(shape, seed) for seed in range(3)]
    M = shape[-3]
    boxes, _, _ = candidates_to_host(
        [torch.from_numpy(p) for p in parts],
        [torch.zeros(*shape[:-2]) for _ in parts],
        [torch.zeros(1) for _ in parts],
    )
    assert boxes.dtype == np.float32
    np.testing.assert_array_equal(boxes, np.stack([_oracle(p).reshape(M, 4) for p in parts]))


@pytest.mark.parametrize("seed", range(4))
def test_torch_and_host_forms_are_the_core_definition(seed):
    """One convention: the torch form, the split device/host form and ``sc.mask_to_box`` (on
    the logits and on the bool masks) give the same boxes, masks of random sizes included."""
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 4)), 3, int(rng.integers(1, 40)), int(rng.integers(1, 40)))
    logits = _random_masks(shape, seed)
    want = sc.mask_to_box(logits > 0)
    np.testing.assert_array_equal(sc.mask_to_box(logits), want)
    np.testing.assert_array_equal(boxes_from_masks(torch.from_numpy(logits)).numpy(), want)
    host, _, _ = candidates_to_host(
        [torch.from_numpy(m[None]) for m in logits],
        [torch.zeros(1, shape[1]) for _ in logits],
        [torch.zeros(1) for _ in logits],
    )
    np.testing.assert_array_equal(host, want)
    pos = (logits > 0).astype(np.float32)  # the core's host half alone, on hand-made maxima
    extrema = np.concatenate((pos.max(axis=-1), pos.max(axis=-2)), axis=-1)
    np.testing.assert_array_equal(boxes_from_extrema(extrema, shape[-2]), want)


@pytest.mark.parametrize("lead", [(1,), (1, 1)])  # the SAM 2 and transformers backends' layouts
def test_candidates_to_host_gives_each_object_its_boxes_and_scores(lead):
    """The backends' one host copy: object k's boxes (the argwhere oracle of its masks), its
    predicted IoUs and object score land in row k, in float32, whatever the input dtype."""
    N, M, S = 3, 3, 20
    masks = [_random_masks((*lead, M, S, S), seed) for seed in range(N)]
    rng = np.random.default_rng(1)
    ious = rng.random((N, M)).astype(np.float32)
    obj = rng.normal(size=N).astype(np.float32)
    boxes, aff, score = candidates_to_host(
        [torch.from_numpy(m).to(torch.bfloat16) for m in masks],
        [torch.from_numpy(i).reshape(*lead, M) for i in ious],
        [torch.tensor(o).reshape(*lead, 1) for o in obj],
    )
    assert (boxes.shape, aff.shape, score.shape) == ((N, M, 4), (N, M), (N,))
    assert boxes.dtype == aff.dtype == score.dtype == np.float32
    np.testing.assert_array_equal(boxes, np.stack([_oracle(m).reshape(M, 4) for m in masks]))
    np.testing.assert_array_equal(aff, ious)
    np.testing.assert_array_equal(score, obj)


def test_index_tensors_are_shared_int64_indices_usable_with_autograd():
    """The backends' chosen indices: one int64 tensor per object with its value and the asked
    shape, the same object for the same (device, shape, value), and a normal tensor even when
    first made under inference_mode (it then indexes a graph that autograd records)."""
    with torch.inference_mode():
        first = index_tensors(np.array([2, 0, 2]), torch.device("cpu"), (1, 1))
    assert [t.tolist() for t in first] == [[[2]], [[0]], [[2]]]
    assert all(t.dtype == torch.int64 and not t.is_inference() for t in first)
    assert first[0] is first[2] and index_tensors(np.array([2]), torch.device("cpu"), (1, 1))[0] is first[0]
    assert index_tensors(np.array([2]), torch.device("cpu"), (1,))[0].shape == (1,)
    logits = torch.randn(1, 3, 4, requires_grad=True)
    batch = torch.arange(1)
    logits[batch, first[0][0]].sum().backward()
    assert logits.grad[0, 2].eq(1).all() and logits.grad[0, :2].eq(0).all()
