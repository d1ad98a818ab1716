"""Entry point of one process of the 2-process Florence-2 DDP test (imported by the children)."""

from __future__ import annotations

import os


def run(rank: int, world_size: int, port: int, cfg_dict: dict, out_dir: str) -> None:
    import torch

    from samurai.train.florence import FlorenceTrainConfig, train_florence
    from samurai.train.lora import lora_state_dict

    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE=str(world_size),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    result = train_florence(FlorenceTrainConfig.from_dict(cfg_dict))
    torch.save(
        {"lora": lora_state_dict(result["model"]), "steps": result["global_step"]},
        os.path.join(out_dir, f"rank{rank}.pt"),
    )
