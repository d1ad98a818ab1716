"""The README's core example runs as written and decides what the rules say it should."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_core_example_runs():
    blocks = [b for b in _python_blocks() if "import samurai_core" in b]
    assert blocks, "README lost its core example"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    out = namespace["out"]
    # Track 0 is still warming up after 3 frames: plain argmax of the predicted IoUs (0.9).
    # Track 1: argmax is candidate 1 (0.8).
    assert out.chosen.tolist() == [0, 1]
    assert out.stable_frames.tolist() == [3, 3]
    # The previous frame (2) always enters memory, newest first.
    assert out.memory_frames[:, 0].tolist() == [2, 2]
