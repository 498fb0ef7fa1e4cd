"""`skmedtl cache info|prune`."""

from __future__ import annotations

import json
import os

from skmedtl.cache import EmbeddingCache
from skmedtl.cli import EXIT_OK, EXIT_USAGE, main

from ._cache_helpers import make_features, make_images


def build(path):
    X = make_images(12)
    for backbone in ("lenet5", "timm:test_resnet"):
        make_features(backbone, cache_path=path).fit(X).transform(X)
    return {ns.label: ns for ns in EmbeddingCache(path).info().namespaces}


def test_cache_info_prints_namespaces_rows_and_config(tmp_path, capsys):
    path = tmp_path / "emb.h5"
    namespaces = build(path)
    assert main(["cache", "info", str(path)]) == EXIT_OK
    out = capsys.readouterr().out
    for ns in namespaces.values():
        assert ns.name in out
        assert f"rows: 12 x {ns.dim} float32" in out
    assert "weights_digest:" in out and "input_size" in out
    assert main(["cache", "info", str(path), "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["n_rows"] == 24 and data["size_bytes"] == os.path.getsize(path)
    assert {ns["label"] for ns in data["namespaces"]} == {"lenet5", "timm_test_resnet"}


def test_cache_prune_by_backbone_and_name(tmp_path, capsys):
    path = tmp_path / "emb.h5"
    namespaces = build(path)
    assert main(["cache", "prune", str(path), "--backbone", "timm:*",
                 "--dry-run"]) == EXIT_OK
    assert "Would delete 1 namespace(s), 12 embeddings" in capsys.readouterr().out
    assert len(EmbeddingCache(path).info().namespaces) == 2
    assert main(["cache", "prune", str(path), "--backbone", "timm:*"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "Deleted 1 namespace(s)" in out
    assert namespaces["timm_test_resnet"].name in out
    remaining = EmbeddingCache(path).info().namespaces
    assert [ns.name for ns in remaining] == [namespaces["lenet5"].name]
    lenet = namespaces["lenet5"]
    assert main(["cache", "prune", str(path), lenet.fingerprint[:8]]) == EXIT_OK
    assert EmbeddingCache(path).info().namespaces == ()


def test_cache_commands_report_errors_without_traceback(tmp_path, capsys):
    missing = tmp_path / "missing.h5"
    assert main(["cache", "info", str(missing)]) == EXIT_USAGE
    assert f"No embedding cache at {missing}" in capsys.readouterr().err
    path = tmp_path / "emb.h5"
    build(path)
    assert main(["cache", "prune", str(path)]) == EXIT_USAGE
    assert "Nothing selected" in capsys.readouterr().err
    assert main(["cache", "prune", str(path), "nope"]) == EXIT_USAGE
    assert "No namespace 'nope'" in capsys.readouterr().err
    half = os.path.getsize(path) // 2
    os.truncate(path, half)
    assert main(["cache", "info", str(path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "damaged" in err and str(path) in err
    assert os.path.getsize(path) == half  # `info` never moves or rewrites
    assert main(["cache"]) == EXIT_USAGE
    assert "info" in capsys.readouterr().out
