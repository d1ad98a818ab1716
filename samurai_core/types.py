"""Shape aliases and the array containers of the core.

Every field has a leading track axis ``B`` (a fixed capacity; ``TrackState.active`` says
which slots hold a track). ``TrackState`` and ``StepOutput`` store their fields packed in two
buffers with the track axis last (see ``_Packed``); their fields are views. ``M`` is the number of candidate masks per frame (3 in SAM 2) and
``H`` the length of the per-track ring buffer of past-frame scores (``SamuraiConfig.memory_window``).
Boxes are ``xyxy`` in pixels unless a name says otherwise.
"""

from __future__ import annotations

from typing import NamedTuple, Union

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

# Public entry points also accept NumPy arrays (backends hand the core host arrays).
AnyArray = Union[Array, np.ndarray]
Scalar = Union[float, Float[Array, ""]]


class NoiseParams(NamedTuple):
    """Kalman noise weights, relative to the box size (official SAMURAI defaults).

    With ``s`` the size that scales a component (h for "xyah"; w for x/w and h for y/h in
    "xywh" and "xyxy") the standard deviations are:
    process: position ``std_position·s``, size ``std_size·s``, their rates
    ``std_velocity·s`` / ``std_size_velocity·s``; measurement: ``std_measurement·s``;
    initial covariance: 2× the position/size terms, 10× the rate terms.
    The aspect ratio of "xyah" is unscaled: ``std_aspect`` (process and initial),
    ``std_aspect_velocity`` (process and initial), ``std_aspect_measurement``.

    Fields may be Python floats (hashable: usable inside a static ``SamuraiConfig``) or JAX
    scalars (differentiable: used when fitting the noise model).
    """

    std_position: Scalar = 1.0 / 20
    std_size: Scalar = 1.0 / 20
    std_velocity: Scalar = 1.0 / 160
    std_size_velocity: Scalar = 1.0 / 160
    std_measurement: Scalar = 1.0 / 20
    std_aspect: Scalar = 1e-2
    std_aspect_velocity: Scalar = 1e-5
    std_aspect_measurement: Scalar = 1e-1


def memory_words(H: int) -> int:
    """Number of 32-bit words that hold one bit per frame of a ring of ``H`` frames."""
    return -(-H // 32)


class _Packed:
    """A pytree of two buffers, floats ``f [rows, B]`` and int32 ``i [rows, B]``, TRACK AXIS
    LAST (every per-track quantity is one contiguous row: the core's kernels work row-wise,
    and ``jax.jit`` moves two buffers instead of a dozen small arrays). The named fields are
    read-only views with the track axis FIRST, NumPy when the buffers are NumPy (e.g. after
    ``jax.device_get``), JAX otherwise.
    """

    __slots__ = ("f", "i", "sizes")
    _fields: tuple[str, ...] = ()

    def __init__(self, f, i, sizes: tuple[int, ...]):
        self.f, self.i, self.sizes = f, i, tuple(sizes)

    def tree_flatten(self):
        return (self.f, self.i), self.sizes

    @classmethod
    def tree_unflatten(cls, sizes, leaves):
        return cls(*leaves, sizes)

    @property
    def capacity(self) -> int:
        """Number of track slots ``B``."""
        return self.f.shape[-1]

    def _xp(self):
        return np if isinstance(self.i, np.ndarray) else jnp

    def _rows(self, buf, start: int, stop: int):
        """Rows ``start:stop`` as ``[B, stop - start]`` (a transposed view: the buffers are 2-D;
        ``.T`` costs far less than ``moveaxis`` on the backends' per-frame path)."""
        return buf[start:stop].T

    def to_host(self):
        """The same, with NumPy buffers (zero-copy on the CPU; one copy per buffer otherwise).

        Cheaper than ``jax.device_get`` (no pytree walk); waits for the buffers to be ready.
        """
        return type(self)(np.asarray(self.f), np.asarray(self.i), self.sizes)

    def _asdict(self) -> dict:
        return {name: getattr(self, name) for name in self._fields}

    def __iter__(self):
        return iter(self.tree_flatten()[0])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(capacity={self.capacity}, sizes={self.sizes})"


def _bits(xp, words, n: int):
    """Bit ``a`` of ``words [W, B]`` (bit ``a % 32`` of word ``a // 32``) as bool ``[B, n]``."""
    u = words.view(np.uint32) if xp is np else jax.lax.bitcast_convert_type(words, jnp.uint32)
    a = np.arange(n)
    return ((u[a // 32] >> (a % 32).astype(np.uint32)[:, None]) & 1).astype(bool).T


@jax.tree_util.register_pytree_node_class
class TrackState(_Packed):
    """Per-video tracking state for ``B`` track slots. Create with ``samurai_core.init``.

    Buffers (track axis last; see ``_Packed``): ``f = [mean (8), var_p (4), cov_pv (4),
    var_v (4)]`` in the motion model's coordinates: the covariance is block-diagonal with one
    2×2 block per coordinate (see ``kalman.blocks_to_cov``), ``cov`` expands it; ``i = [stable_frames, active, memory_bits (W), hist_frame (H)]``
    with ``H = memory_window`` and ``W = ceil(H / 32)``.

    The score history is kept in AGE order (age 0 = the frame pushed last): ``hist_frame`` holds
    the frame index pushed ``a`` steps ago (-1 = none yet) and ``memory_bits`` whether that
    frame passed the memory gate of rule 5 when it was pushed.
    """

    __slots__ = ()
    _fields = ("mean", "cov", "stable_frames", "active", "hist_frame", "hist_gate")

    @property
    def memory_window(self) -> int:
        return self.sizes[0]

    @property
    def mean(self) -> Float[AnyArray, "B 8"]:
        return self._rows(self.f, 0, 8)

    @property
    def cov(self) -> Float[AnyArray, "B 8 8"]:
        xp = self._xp()
        a, c, d = (self._rows(self.f, 8 + 4 * j, 12 + 4 * j) for j in range(3))
        eye = xp.eye(4, dtype=a.dtype)[None]

        def diag(x):
            return x[:, :, None] * eye

        top = xp.concatenate([diag(a), diag(c)], axis=2)
        return xp.concatenate([top, xp.concatenate([diag(c), diag(d)], axis=2)], axis=1)

    @property
    def stable_frames(self) -> Int[AnyArray, " B"]:
        """Successful KF updates so far (0 = not started or reset)."""
        return self.i[0]

    @property
    def active(self) -> Bool[AnyArray, " B"]:
        """The slot holds a track."""
        return self.i[1] != 0

    @property
    def hist_frame(self) -> Int[AnyArray, "B H"]:
        """Frame index pushed ``a`` steps ago, ``a = 0 … H-1`` (-1 = empty)."""
        W = memory_words(self.memory_window)
        return self._rows(self.i, 2 + W, 2 + W + self.memory_window)

    @property
    def hist_gate(self) -> Bool[AnyArray, "B H"]:
        """The frame pushed ``a`` steps ago passed the memory gate (rule 5)."""
        W = memory_words(self.memory_window)
        return _bits(self._xp(), self.i[2 : 2 + W], self.memory_window)


class Candidates(NamedTuple):
    """What a segmenter proposes for one frame, for every track slot."""

    boxes: Float[Array, "B M 4"]  # xyxy pixels of each candidate mask; zeros if empty
    aff: Float[Array, "B M"]  # predicted IoU (SAM's "ious")
    obj: Float[Array, " B"]  # object score logit
    frame_idx: Int[Array, ""]  # index of this frame in the video
    stepped: Bool[Array, " B"]  # tracks decided on this frame (False: left untouched)


@jax.tree_util.register_pytree_node_class
class StepOutput(_Packed):
    """Decisions for one frame (buffers as in ``_Packed``; sizes ``(M, H, K)``).

    ``f = [score (M), kf_iou (M), kf_score, pred_box (4), box (4)]``,
    ``i = [chosen, kf_score_valid, updated, stable_frames, memory_frames (K), memory_bits (W)]``.
    """

    __slots__ = ()
    _fields = (
        "chosen",
        "score",
        "kf_iou",
        "kf_score",
        "kf_score_valid",
        "pred_box",
        "box",
        "updated",
        "stable_frames",
        "memory_mask",
        "memory_frames",
    )

    @property
    def chosen(self) -> Int[AnyArray, " B"]:
        """Index of the chosen candidate."""
        return self.i[0]

    @property
    def score(self) -> Float[AnyArray, "B M"]:
        """The score argmax'ed: ``aff``, or ``a·kf_iou + (1-a)·aff`` once stable."""
        return self._rows(self.f, 0, self.sizes[0])

    @property
    def kf_iou(self) -> Float[AnyArray, "B M"]:
        """IoU of each candidate with the predicted box (0 where unused)."""
        M = self.sizes[0]
        return self._rows(self.f, M, 2 * M)

    @property
    def kf_score(self) -> Float[AnyArray, " B"]:
        """``kf_iou[chosen]``; 0 where motion scoring was not used."""
        return self.f[2 * self.sizes[0]]

    @property
    def kf_score_valid(self) -> Bool[AnyArray, " B"]:
        """Motion scoring was used on this frame."""
        return self.i[1] != 0

    @property
    def pred_box(self) -> Float[AnyArray, "B 4"]:
        """KF prediction (xyxy) before the update; 0 if not started."""
        M = self.sizes[0]
        return self._rows(self.f, 2 * M + 1, 2 * M + 5)

    @property
    def box(self) -> Float[AnyArray, "B 4"]:
        """KF posterior box (xyxy) after the update; 0 if not started."""
        M = self.sizes[0]
        return self._rows(self.f, 2 * M + 5, 2 * M + 9)

    @property
    def updated(self) -> Bool[AnyArray, " B"]:
        """The KF took the chosen box as a measurement (a rule-1 start counts)."""
        return self.i[2] != 0

    @property
    def stable_frames(self) -> Int[AnyArray, " B"]:
        return self.i[3]

    @property
    def memory_frames(self) -> Int[AnyArray, "B K"]:
        """Frames that enter memory for the next frame, newest first, -1 padded."""
        K = self.sizes[2]
        return self._rows(self.i, 4, 4 + K)

    @property
    def memory_mask(self) -> Bool[AnyArray, "B H"]:
        """Ages ``a`` (of ``TrackState.hist_frame``) whose frames enter memory."""
        _, H, K = self.sizes
        return _bits(self._xp(), self.i[4 + K : 4 + K + memory_words(H)], H)


__all__ = [
    "AnyArray",
    "Array",
    "Candidates",
    "NoiseParams",
    "StepOutput",
    "TrackState",
]
