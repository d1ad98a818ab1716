"""``samurai --help`` stays fast: building the parser loads neither JAX nor torch (the motion
model names come from the core's import-free ``samurai_core.motion_models``)."""

import subprocess
import sys
from pathlib import Path


def test_parser_loads_no_jax_or_torch():
    code = (
        "import sys\n"
        "from samurai.cli import build_parser\n"
        "from samurai_core import MOTION_MODELS\n"
        "build_parser().parse_args(['track', 'v.mp4', '--box', '1,2,3,4', '--motion-model', 'xywh'])\n"
        "loaded = [m for m in ('jax', 'torch', 'optax') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
        "assert MOTION_MODELS == ('xyah', 'xywh', 'xyxy')\n"
        "print('ok')"
    )
    root = Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr
