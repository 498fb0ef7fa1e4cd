"""Writing files into a temporary Hugging Face hub cache, as huggingface_hub does."""

from __future__ import annotations

import json
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def snapshot(cache: Path, repo_id: str) -> Path:
    """The snapshot folder of ``repo_id`` in ``cache`` (created, with refs/main)."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(COMMIT)
    folder = repo / "snapshots" / COMMIT
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_json(folder: Path, name: str, data: dict) -> Path:
    path = folder / name
    path.write_text(json.dumps(data))
    return path


def save_safetensors(module_or_state, path: Path) -> Path:
    from safetensors.torch import save_file

    state = (
        module_or_state.state_dict()
        if hasattr(module_or_state, "state_dict")
        else module_or_state
    )
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path
