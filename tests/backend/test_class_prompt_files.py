"""Damaged ``class_prompts.safetensors`` files: each is refused with ClassPromptError naming the
file (never a traceback from safetensors, never tokens that are NaN, never names shifted
against their rows). The files are written here byte by byte or with safetensors directly,
as a damaged copy or another tool would leave them."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

from safetensors.torch import save_file  # noqa: E402

from samurai_sam2.class_prompts import CLASS_PROMPTS_NAME, ClassPromptError, ClassPrompts  # noqa: E402

NAMES = ["lv", "la"]


def _good(folder):
    prompts = ClassPrompts(NAMES, n_tokens=2, embed_dim=8)
    with torch.no_grad():
        prompts.tokens.copy_(torch.arange(32, dtype=torch.float32).reshape(2, 2, 8))
    return prompts.save(folder / CLASS_PROMPTS_NAME)


def _raw(folder, tensors, metadata):
    path = folder / CLASS_PROMPTS_NAME
    save_file(tensors, str(path), metadata=metadata)
    return path


def _nan_tokens(folder):
    tokens = torch.zeros(2, 2, 8)
    tokens[1, 0, 3] = float("nan")
    return _raw(folder, {"tokens": tokens}, {"class_names": json.dumps(NAMES), "n_tokens": "2"})


DAMAGE = {
    "truncated": (
        lambda f: f.joinpath(CLASS_PROMPTS_NAME).write_bytes(_good(f).read_bytes()[:100]),
        "damaged or not a safetensors file",
    ),
    "not-safetensors": (
        lambda f: f.joinpath(CLASS_PROMPTS_NAME).write_text("hello"),
        "damaged or not a safetensors file",
    ),
    "no-tokens-tensor": (
        lambda f: _raw(f, {"weights": torch.zeros(2, 2, 8)}, {"class_names": json.dumps(NAMES)}),
        "holds no 'tokens' tensor",
    ),
    "no-metadata": (
        lambda f: _raw(f, {"tokens": torch.zeros(2, 2, 8)}, None),
        "no class names in its metadata",
    ),
    "names-not-json": (
        lambda f: _raw(f, {"tokens": torch.zeros(2, 2, 8)}, {"class_names": "lv, la"}),
        "'class_names' is not a list of class names",
    ),
    "names-a-string": (
        lambda f: _raw(f, {"tokens": torch.zeros(2, 2, 8)}, {"class_names": '"lv"'}),
        "'class_names' is not a list of class names",
    ),
    "names-not-strings": (
        lambda f: _raw(f, {"tokens": torch.zeros(2, 2, 8)}, {"class_names": "[1, 2]"}),
        "'class_names' is not a list of class names",
    ),
    "fewer-names-than-rows": (
        lambda f: _raw(f, {"tokens": torch.zeros(3, 2, 8)}, {"class_names": json.dumps(NAMES)}),
        "do not match 2 class names",
    ),
    "wrong-rank": (
        lambda f: _raw(f, {"tokens": torch.zeros(2, 16)}, {"class_names": json.dumps(NAMES)}),
        "do not match 2 class names",
    ),
    "n-tokens-disagrees": (
        lambda f: _raw(
            f, {"tokens": torch.zeros(2, 2, 8)}, {"class_names": json.dumps(NAMES), "n_tokens": "4"}
        ),
        "n_tokens='4'",
    ),
    "duplicate-names": (
        lambda f: _raw(f, {"tokens": torch.zeros(2, 2, 8)}, {"class_names": '["LV", "lv"]'}),
        "distinct",
    ),
    "nan-tokens": (_nan_tokens, "class(es) ['la'] are NaN, infinite"),
    "integer-tokens": (
        lambda f: _raw(
            f, {"tokens": torch.zeros(2, 2, 8, dtype=torch.int32)}, {"class_names": json.dumps(NAMES)}
        ),
        "not floating point",
    ),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=DAMAGE)
def test_damaged_class_prompt_file_is_refused_naming_it(damage, tmp_path):
    write, needle = DAMAGE[damage]
    write(tmp_path)
    with pytest.raises(ClassPromptError) as caught:
        ClassPrompts.load(tmp_path)
    message = str(caught.value)
    assert str(tmp_path / CLASS_PROMPTS_NAME) in message and needle in message, message


def test_a_good_file_loads_row_for_row(tmp_path):
    _good(tmp_path)
    prompts = ClassPrompts.load(tmp_path)
    assert prompts.class_names == ("lv", "la")
    assert torch.equal(prompts.tokens_for(["la"])[0], torch.arange(16, 32, dtype=torch.float32).reshape(2, 8))
