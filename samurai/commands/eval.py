"""``samurai eval``: vanilla SAM 2 vs SAMURAI (vs SAMURAI + adapter) on a labelled dataset.

Echo datasets (CAMUS 2023 / 2019, EchoNet-Dynamic, the generic frames + masks layout): every
labelled structure is prompted on the first labelled frame (a box from its mask, or the mask
itself) and tracked forward; the other labelled frames are scored (Dice, IoU, HD95 — mm where
the spacing is known — and box metrics on the masks' boxes). The LV gets the clinical
read-out (area curve, ED/ES, area-length EF per view, biplane disks EF when both apical views of
a patient are present) and its EF error against the dataset's label.

Per-frame image baselines (``--methods sam2-image,medsam``): SAM 2's image predictor and MedSAM
segment every frame on its own from a box, under two protocols reported side by side
(``sam2-image/oracle-box``: the truth box on every labelled frame; ``sam2-image/first-box``: the
truth box on the first labelled frame, then the box of the method's own previous mask).
``--methods florence2`` adds a Florence-2 (``--florence2 DIR``, ``--florence2-adapter DIR``) that
segments each structure by its name on every labelled frame, with no box.

LaSOT-style data (``--lasot``): one folder per sequence with its frames (``img/`` or the folder
itself, or one video file) and ``groundtruth.txt`` (``x,y,w,h`` per frame); the first box is
the prompt and the box metrics are reported.

Echo datasets also get every case's and method's predicted masks, ``masks/<case>/<method>/
masks.nii.gz`` and ``seg.dcm`` for a DICOM video (``samurai.eval.mask_exports``;
``--no-mask-exports`` leaves them out).

The run itself is the library's (``samurai.eval.runner.evaluate``, also ``samurai.evaluate``);
see docs/evaluation.md.
"""

from __future__ import annotations


def add_parser(sub) -> None:
    from samurai.commands.arguments import (
        add_model_arguments,
        add_motion_arguments,
        add_random_weights_arguments,
        add_speed_arguments,
    )

    p = sub.add_parser(
        "eval",
        help="evaluate vanilla SAM 2 vs SAMURAI on CAMUS / EchoNet / generic / LaSOT-style data",
        description=(
            "Track every labelled structure of every case with vanilla SAM 2 and with SAMURAI "
            "(and SAMURAI + a LoRA adapter), then write per-case CSVs, a summary table and plots."
        ),
    )
    p.add_argument("data", help="dataset folder")
    from samurai.dataset_kinds import KINDS

    p.add_argument("--kind", choices=KINDS, help="dataset layout (default: detected)")
    p.add_argument(
        "--lasot",
        action="store_true",
        help="LaSOT/GOT-10k-style sequences (groundtruth.txt boxes) instead of an echo dataset",
    )
    p.add_argument("--split", help="train, val or test (default: all cases)")
    p.add_argument("--max-cases", type=int, default=None, help="evaluate at most this many cases")
    p.add_argument(
        "--prompt",
        choices=("box", "mask", "learned"),
        default="box",
        help="first-frame prompt of each structure, echo datasets (default: box); "
        "learned: no box, the --adapter's class prompts find each structure by name "
        "(methods vanilla+learned and samurai+learned)",
    )
    p.add_argument("--checkpoint", help="SAM 2 checkpoint (.pt, official format)")
    add_model_arguments(p)
    add_speed_arguments(p)
    p.add_argument("--adapter", help="also evaluate SAMURAI with this LoRA adapter folder")
    p.add_argument(
        "--methods",
        default="vanilla,samurai",
        help="comma-separated methods: vanilla, samurai (SAM 2 video), and the per-frame "
        "baselines sam2-image, medsam, each scored under the oracle-box and first-box "
        "protocols, and florence2 (by name, no box) (default: vanilla,samurai)",
    )
    p.add_argument(
        "--medsam",
        metavar="PATH",
        help="MedSAM weights for --methods medsam: the official medsam_vit_b.pth or a "
        "transformers SamModel folder",
    )
    p.add_argument("--florence2", metavar="DIR", help="Florence-2 folder for --methods florence2")
    p.add_argument(
        "--florence2-adapter", metavar="DIR", help="its LoRA adapter from `samurai train --model florence2`"
    )
    p.add_argument(
        "--frame-batch",
        type=int,
        default=8,
        help="frames per image-encoder call of the per-frame baselines (default: 8)",
    )
    p.add_argument(
        "--no-mask-exports",
        dest="mask_exports",
        action="store_false",
        help="do not write each case's and method's predicted masks as masks/<case>/<method>/"
        "masks.nii.gz (and seg.dcm for a DICOM video); written by default",
    )
    add_motion_arguments(p)
    p.add_argument("--out", default="samurai_eval", help="output folder (default: samurai_eval)")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing output folder written by samurai (or an empty one)",
    )
    add_random_weights_arguments(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from dataclasses import fields

    from samurai.eval.runner import EvalOptions, evaluate

    options = EvalOptions(**{f.name: getattr(args, f.name, None) for f in fields(EvalOptions)})
    return evaluate(options).status
