"""``samurai_sam2.memory_attention.attend_memories`` against sam2's own ``MemoryAttention``
module, object by object (the reference: sam2 1.1.0's forward, untouched), and the models it
must leave to that module."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

from samurai_sam2 import build_samurai_video_predictor  # noqa: E402
from samurai_sam2.memory_attention import attend_memories, restatement_applies  # noqa: E402

SIZE = 128  # 8x8 image tokens


@pytest.fixture(scope="module")
def attn():
    torch.manual_seed(0)
    predictor = build_samurai_video_predictor("tiny", None, device="cpu", image_size=SIZE)
    return predictor.memory_attention


@pytest.mark.parametrize("num_ptr_tokens", [0, 12])
def test_restated_memory_attention_matches_sam2_per_object(attn, num_ptr_tokens):
    assert restatement_applies(attn)
    g = torch.Generator().manual_seed(1)
    hw, C, D, G = (SIZE // 16) ** 2, 256, 64, 3
    n = 5 * hw + num_ptr_tokens  # 5 memory frames, then the object pointers
    curr, curr_pos = torch.randn(hw, 1, C, generator=g), torch.randn(hw, 1, C, generator=g)
    memory, memory_pos = torch.randn(n, G, D, generator=g), torch.randn(n, G, D, generator=g)
    with torch.inference_mode():
        got = attend_memories(attn, curr, curr_pos, memory, memory_pos, num_ptr_tokens)
        want = torch.cat(
            [
                attn(
                    curr=[curr],
                    curr_pos=[curr_pos],
                    memory=memory[:, i : i + 1],
                    memory_pos=memory_pos[:, i : i + 1],
                    num_obj_ptr_tokens=num_ptr_tokens,
                )
                for i in range(G)
            ],
            dim=1,
        )
    assert got.shape == (hw, G, C)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    # The objects' outputs differ (each attended to its own memory), so a broadcast bug shows.
    assert (got[:, 0] - got[:, 1]).abs().max() > 1e-2


def test_models_the_restatement_does_not_fit_are_left_to_sam2(attn):
    import copy

    training = copy.deepcopy(attn).train()
    assert not restatement_applies(training)  # dropout active
    wrapped = copy.deepcopy(attn)
    base = wrapped.layers[0].cross_attn_image.v_proj
    wrapped.layers[0].cross_attn_image.v_proj = torch.nn.Sequential(base)  # e.g. an adapter's wrapper
    assert not restatement_applies(wrapped)
    heads = copy.deepcopy(attn)
    heads.layers[1].cross_attn_image.num_heads = 2
    assert not restatement_applies(heads)
