"""Where a model ran, and the switches that make a CUDA run repeatable: recorded in every generate and extract
manifest, because bf16 greedy answers (and so the audit's answer hashes) can change with the GPU model, the
driver and kernel versions, the attention kernel and the batch composition.

``set_determinism`` applies PyTorch's documented reproducibility settings on CUDA (cuBLAS workspace config,
deterministic algorithms, no cuDNN autotuning, no TF32); on the CPU it changes nothing, so the CPU studies'
numbers stay as they are. ``runtime_provenance`` says what ran: the torch and transformers versions at run
time, the device's name, the CUDA, cuDNN and driver versions, the attention implementation and the dtype.
"""

from __future__ import annotations

import os
import platform
import subprocess

#: the cuBLAS workspace setting PyTorch's reproducibility notes ask for before the first cuBLAS call
CUBLAS_WORKSPACE = ":4096:8"


def set_determinism(device: str) -> dict:
    """PyTorch's documented determinism switches on CUDA (before the model is loaded); what was set, for the
    manifest. On the CPU nothing is changed."""
    import torch

    if not str(device).startswith("cuda"):
        return {"device": "cpu", "switches": "none (CPU kernels are deterministic for a fixed thread count)"}
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return {
        "CUBLAS_WORKSPACE_CONFIG": os.environ["CUBLAS_WORKSPACE_CONFIG"],
        "use_deterministic_algorithms": "True (warn_only)",
        "cudnn.benchmark": False,
        "cudnn.deterministic": True,
        "allow_tf32": False,
    }


def _driver_version() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None


def _cpu_flags() -> list[str]:
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next((line.split(":", 1)[1].split() for line in fh if line.startswith("flags")), [])
    except OSError:
        return []
    return [f for f in wanted if f in flags]


def runtime_provenance(model) -> dict:
    """What ran this job: versions at run time, device, attention implementation and dtype of ``model``."""
    import torch
    import transformers

    param = next(model.parameters())
    device = param.device
    out = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "device_type": device.type,
        "dtype": str(param.dtype).replace("torch.", ""),
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        out |= {
            "device_name": torch.cuda.get_device_name(device),
            "compute_capability": f"{props.major}.{props.minor}",
            "device_memory_mb": round(props.total_memory / 2**20),
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
            "driver": _driver_version(),
        }
    else:
        out |= {
            "device_name": platform.processor() or platform.machine(),
            "cpu_flags": _cpu_flags(),
            "ONEDNN_MAX_CPU_ISA": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        }
    return out
