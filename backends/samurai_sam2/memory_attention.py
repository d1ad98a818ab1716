"""sam2's memory attention for the objects of one frame, restated with exact algebraic savings.

``attend_memories`` gives what ``sam2.modeling.memory_attention.MemoryAttention.forward`` gives
for a batch of objects that share one frame's image tokens, up to float rounding, with less
work per object:

1. **The image's part once.** Every object enters layer 0 with the same tokens (the frame's
   features plus ``0.1 ×`` their position encoding), so layer 0's self-attention and its
   cross-attention queries (projection and rotary encoding) run on one copy and broadcast over
   the objects; the objects' streams part at layer 0's cross-attention residual.
2. **Values attended in the memory's width.** Cross-attention projects each 64-dim memory
   token to a 256-dim value, ``V = M Wvᵀ + bv``. Softmax rows sum to 1, so
   ``A V = (A M) Wvᵀ + bv``: the attention-weighted sum runs over the raw 64-dim memory and
   ``v_proj`` is applied to the 256 results instead of to the ~1 850 memory tokens (4× fewer
   multiply-adds in ``A·V``, and none in the value projection of the memory).
3. **Fewer passes over large tensors.** The rotary encoding and the MLP's ReLU act in place,
   and the softmax is normalised after ``A·M`` (over 64 columns instead of ~1 850).

Keys cannot be treated so: the rotary encoding rotates each key *after* its projection by an
angle that depends on the key's position, so ``Q Kᵀ`` does not factor through the 64-dim memory.

Relies on sam2 1.1.0 internals (``compat.SAM2_MODULE_INTERNALS``; the batched-vs-loop parity
test is the alarm): ``MemoryAttention`` (``layers``, ``norm``, ``pos_enc_at_input``,
``batch_first``), ``MemoryAttentionLayer`` (``_forward_sa``, ``norm2``, ``norm3``,
``linear1``, ``linear2``, ``activation``, ``cross_attn_image``,
``pos_enc_at_cross_attn_queries``/``_keys``), ``RoPEAttention`` (``q_proj``, ``k_proj``,
``v_proj``, ``out_proj``, ``num_heads``, ``freqs_cis``, ``compute_cis``, ``rope_k_repeat``); it
restates ``sam2.modeling.position_encoding.apply_rotary_enc`` in place (:func:`_rotate_`).
Models it does not fit (several heads, attention without rotary encoding, wrapped projections
such as an unmerged LoRA adapter, training mode) are told apart by :func:`restatement_applies`;
the caller runs sam2's module for those.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from samurai_sam2.compat import check_sam2

try:  # sam2 internals (listed in samurai_sam2.compat)
    from sam2.modeling.memory_attention import MemoryAttention
    from sam2.modeling.sam.transformer import RoPEAttention
except ImportError:
    check_sam2()
    raise


def restatement_applies(attn: nn.Module) -> bool:
    """Whether :func:`attend_memories` computes ``attn``'s function: sam2's memory attention in
    eval mode, batch-first, with one-head rotary cross-attention whose value projection is a
    plain ``nn.Linear`` (an affine map: the reassociation needs nothing else)."""
    if type(attn) is not MemoryAttention or attn.training or not attn.batch_first:
        return False
    for layer in attn.layers:
        ca = layer.cross_attn_image
        if type(ca) is not RoPEAttention or ca.num_heads != 1:
            return False
        if any(type(getattr(ca, p)) is not nn.Linear for p in ("q_proj", "k_proj", "v_proj", "out_proj")):
            return False
    return True


def attend_memories(
    attn: nn.Module,
    curr: torch.Tensor,
    curr_pos: torch.Tensor,
    memory: torch.Tensor,
    memory_pos: torch.Tensor,
    num_obj_ptr_tokens: int,
) -> torch.Tensor:
    """``attn(curr=[curr.expand(-1, G, -1)], curr_pos=[...], memory, memory_pos,
    num_obj_ptr_tokens)`` for ``G`` objects on one frame (see the module's docstring).

    Args:
        attn: sam2's ``MemoryAttention`` (:func:`restatement_applies` must hold).
        curr, curr_pos: ``[HW, 1, C]`` the frame's image tokens and their position encoding.
        memory, memory_pos: ``[N, G, D]`` each object's memory tokens (the last
            ``num_obj_ptr_tokens`` are object pointers, without rotary encoding).

    Returns:
        ``[HW, G, C]`` the memory-conditioned image tokens of each object.
    """
    tgt = curr
    if attn.pos_enc_at_input:
        tgt = tgt + 0.1 * curr_pos
    tgt, query_pos = tgt.transpose(0, 1), curr_pos.transpose(0, 1)  # [1, HW, C]: shared
    memory, memory_pos = memory.transpose(0, 1), memory_pos.transpose(0, 1)  # [G, N, D]
    for layer in attn.layers:
        tgt = layer._forward_sa(tgt, query_pos)  # sam2's own; on one copy while tgt is shared
        tgt = tgt + _cross_attention(layer, tgt, memory, memory_pos, query_pos, num_obj_ptr_tokens)
        tgt = tgt + layer.linear2(_activation(layer, layer.linear1(layer.norm3(tgt))))
    return attn.norm(tgt).transpose(0, 1)


def _cross_attention(layer, tgt, memory, memory_pos, query_pos, num_k_exclude_rope: int):
    """``layer.cross_attn_image`` applied as sam2's ``MemoryAttentionLayer._forward_ca`` does,
    without its residual: ``[b, HW, C]`` queries (``b`` = 1 while shared, or ``G``) against
    ``[G, N, D]`` memories; returns ``[G, HW, C]``."""
    ca = layer.cross_attn_image
    tgt2 = layer.norm2(tgt)
    q = ca.q_proj(tgt2 + query_pos if layer.pos_enc_at_cross_attn_queries else tgt2)
    k = ca.k_proj(memory + memory_pos if layer.pos_enc_at_cross_attn_keys else memory)
    # Rotary encoding in float32 as sam2 applies it, in place (sam2 rotates copies).
    q, k = q.float().contiguous(), k.float().contiguous()
    freqs = _rope_table(ca, q)
    _rotate_(q, freqs, repeat=False)
    _rotate_(k[:, : k.size(1) - num_k_exclude_rope], freqs, repeat=ca.rope_k_repeat)
    scores = torch.matmul(q * q.size(-1) ** -0.5, k.transpose(-2, -1)).float()  # [G, HW, N]
    # softmax(S) M = (exp(S - max) M) / sum(exp(S - max)): normalised after the product, over
    # D columns instead of N, with the exponentials taken in place.
    scores -= scores.amax(dim=-1, keepdim=True)
    weights = scores.exp_()
    attended = torch.matmul(weights, memory) / weights.sum(dim=-1, keepdim=True)  # [G, HW, D]
    return ca.out_proj(ca.v_proj(attended))


def _activation(layer, x: torch.Tensor) -> torch.Tensor:
    """The layer's MLP activation; ReLU in place on the fresh ``[G, HW, 2048]`` hidden layer
    (the same values without allocating and filling a second one)."""
    return x.relu_() if layer.activation is F.relu else layer.activation(x)


def _rotate_(x: torch.Tensor, freqs: torch.Tensor, repeat: bool) -> None:
    """sam2's rotary encoding (``apply_rotary_enc``: each (even, odd) channel pair times the
    unit complex number of its token's position; for memory keys the image's table repeated
    over the memory frames), in place on a contiguous float32 ``x [b, n, C]``."""
    if x.size(1) == 0:
        return
    n = freqs.size(0)
    if x.size(1) != n and not repeat:
        raise ValueError(f"{x.size(1)} tokens for a rotary table of {n} positions")
    pairs = torch.view_as_complex(x.unflatten(-1, (-1, 2)))  # [b, n·r, C/2]
    pairs.unflatten(1, (-1, n)).mul_(freqs)


def _rope_table(ca, q: torch.Tensor) -> torch.Tensor:
    """The rotary table for ``q``'s tokens, kept on the module exactly as
    ``RoPEAttention.forward`` keeps it (recomputed when the token count changes)."""
    n = q.shape[-2]
    ca.freqs_cis = ca.freqs_cis.to(q.device)
    if ca.freqs_cis.shape[0] != n:
        side = math.sqrt(n)
        ca.freqs_cis = ca.compute_cis(end_x=side, end_y=side).to(q.device)
    return ca.freqs_cis
