"""What a run runs on and how far it got, as run_info.json records it, and the one line training
starts with."""

from __future__ import annotations

import torch

from nerfspec.cpu import cpu_name


def describe_run(trainer) -> dict:
    """run_info.json's content for a ``Trainer``: device (and its name: the GPU's, else the CPU
    model), precision, kernels, threads, versions, encoding and parameter count, dataset, step,
    wall time, throughput, peak GPU memory and the number of ranks."""
    split, device = trainer.train_split, trainer.device
    elapsed = max(trainer.elapsed_s, 1e-9)
    return {
        "device": str(device), "device_name": (torch.cuda.get_device_name(device)
                                               if device.type == "cuda" else cpu_name()),
        "precision": trainer.precision, "kernels": trainer.estimator.backend,
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "encoding": trainer.cfg.field.encoding,
        "parameters": sum(p.numel() for p in trainer.field.parameters()),
        "dataset": {"root": str(trainer.cfg.data.root), "train_views": len(split),
                    "width": split.width, "height": split.height},
        "step": trainer.step, "elapsed_s": trainer.elapsed_s,
        "rays_per_s": trainer.totals["rays"] / elapsed,
        "samples_per_s": trainer.totals["samples"] / elapsed,
        "peak_memory_gb": (torch.cuda.max_memory_allocated(device) / 2 ** 30
                           if device.type == "cuda" else None),
        "world_size": trainer.dist.world_size if trainer.dist is not None else 1,
    }


def start_line(info: dict, scene_note: str = "") -> str:
    """'training gauss (431,492 parameters) on cpu (AMD EPYC), fp32, 2 threads, torch kernels;
    4 views of 16x16 from DATA; NOTE' from a ``describe_run`` dict."""
    data = info["dataset"]
    return (f"training {info['encoding']} ({info['parameters']:,} parameters) on {info['device']} "
            f"({info['device_name']}), {info['precision']}, {info['threads']} threads, "
            f"{info['kernels']} kernels; {data['train_views']} views of {data['width']}x{data['height']} "
            f"from {data['root']}" + (f"; {scene_note}" if scene_note else ""))
