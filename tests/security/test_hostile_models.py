"""Each hostile model is refused, or runs without leaving the process.

Every test builds the attack the way its author would: a saved model edited
with its manifest's digests recomputed (they are checksums, not signatures), a
pickle file, a ``hf:`` folder shipping Python code, a link, a path out of the
folder, damaged tensors.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
from pathlib import Path

import joblib
import numpy as np
import pytest

import skmedtl
from skmedtl.persistence import UnsafeModelError
from tests._helpers import LENET, call_main, find_estimator, forge, forge_tree

ADDRESS = "tcp://203.0.113.7:8786"  # TEST-NET-3: never a real host


# -- 1. a network address in model.json -----------------------------------------
def test_scheduler_address_is_not_saved(data, tmp_path):
    """A model trained on a cluster does not keep the cluster's address."""
    features = skmedtl.CNNFeatures("lenet5", **LENET).fit(data[0])
    features.client = ADDRESS  # as if fitted with client=<scheduler address>
    path = skmedtl.save(features, tmp_path / "f")
    assert ADDRESS not in (path / "model.json").read_text()
    assert skmedtl.load(path).client is None


def test_forged_scheduler_address_is_ignored_on_load(saved, data, no_escape):
    """Was: predict connected to the address and unpickled its replies."""

    def edit(tree):
        node = find_estimator(tree, "skmedtl.CNNFeatures")
        node["params"]["client"] = ADDRESS
        node["params"]["device"] = "cuda:7"
        node["params"]["cache_path"] = "/etc/skmedtl-cache.h5"

    forge_tree(saved, edit)
    model = skmedtl.load(saved)
    features = model.steps[0][1] if hasattr(model, "steps") else model
    features = next(s for _, s in model.steps if isinstance(s, skmedtl.CNNFeatures))
    assert features.client is None
    assert features.device == "auto"
    assert features.cache_path is None
    proba = model.predict_proba(data[0])  # runs here, connects to nothing
    assert proba.shape == (12, 2)


def test_forged_address_through_predict_command(saved, tmp_path, capsys, no_escape):
    from PIL import Image

    forge_tree(
        saved,
        lambda tree: find_estimator(tree, "skmedtl.CNNFeatures")["params"].update(
            client=ADDRESS
        ),
    )
    image = tmp_path / "scan.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(image)
    code, out, err = call_main(
        ["predict", "--model", saved, "--images", image, "-q"], capsys
    )
    assert code == 0, err
    assert "scan.png" in out


# -- 2. a pickle file -------------------------------------------------------------
class _Payload:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = os.fspath(marker)

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "pwned"))


@pytest.mark.parametrize("command", ["explain", "predict"])
def test_pickle_file_is_refused_without_consent(command, tmp_path, capsys):
    marker = tmp_path / "marker"
    evil = tmp_path / "model.pkl"
    evil.write_bytes(pickle.dumps(_Payload(marker)))
    image = tmp_path / "scan.png"
    np.save(tmp_path / "scan.npy", np.zeros((8, 8), np.uint8))
    image = tmp_path / "scan.npy"
    argv = [command, "--model", evil, "--images", image, "--out", tmp_path / "o"]
    if command == "predict":
        argv[-1] = tmp_path / "o.csv"
    code, _, err = call_main(argv, capsys)
    assert code == 2
    assert "--allow-pickle" in err and "runs whatever code" in err
    assert not marker.exists()  # nothing was unpickled


def test_pickle_needs_consent_in_python_too(tmp_path):
    marker = tmp_path / "marker"
    evil = tmp_path / "model.joblib"
    joblib.dump(_Payload(marker), evil)
    with pytest.raises(UnsafeModelError, match="allow_pickle=True"):
        skmedtl.persistence.load_model(evil)
    assert not marker.exists()
    with pytest.raises(FileNotFoundError):  # a pickle is never a saved model
        skmedtl.load(evil.parent)
    assert not marker.exists()


def test_allow_pickle_is_consent(hybrid, data, tmp_path):
    path = tmp_path / "model.pkl"
    joblib.dump(hybrid, path)
    model, metadata = skmedtl.persistence.load_model(path, allow_pickle=True)
    np.testing.assert_allclose(
        model.predict_proba(data[0]), hybrid.predict_proba(data[0])
    )
    assert metadata == {}


# -- 3. a hf: folder with code and auto_map -----------------------------------------
def _hf_folder(root: Path) -> tuple[Path, Path]:
    folder = root / "evil-vit"
    folder.mkdir()
    marker = root / "imported"
    (folder / "modeling_evil.py").write_text(
        f"open({os.fspath(marker)!r}, 'w').write('pwned')\n"
    )
    (folder / "config.json").write_text(
        json.dumps(
            {
                "model_type": "vit",
                "hidden_size": 32,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "intermediate_size": 37,
                "image_size": 32,
                "patch_size": 8,
                "num_channels": 3,
                "auto_map": {
                    "AutoConfig": "modeling_evil.EvilConfig",
                    "AutoModel": "modeling_evil.EvilModel",
                },
            }
        )
    )
    return folder, marker


def test_hf_folder_with_code_is_refused(tmp_path, data, no_escape):
    pytest.importorskip("transformers")
    folder, marker = _hf_folder(tmp_path)
    with pytest.raises(UnsafeModelError, match="auto_map.*never runs"):
        skmedtl.CNNFeatures(f"hf:{folder}", weights=None, verbose=0).fit(data[0])
    assert not marker.exists()


def test_saved_model_naming_a_hf_folder_with_code_is_refused(tmp_path, no_escape, data):
    pytest.importorskip("transformers")
    folder, marker = _hf_folder(tmp_path)
    features = skmedtl.CNNFeatures("lenet5", **LENET).fit(data[0])
    path = skmedtl.save(features, tmp_path / "f")
    forge_tree(
        path,
        lambda tree: (
            tree.update(params={**tree["params"], "backbone": f"hf:{folder}"})
            or tree["state"]["model_"]["$network"].update(backbone=f"hf:{folder}")
        ),
    )
    with pytest.raises(UnsafeModelError, match="auto_map"):
        skmedtl.load(path)
    assert not marker.exists()


def test_hf_calls_pass_trust_remote_code_false():
    """Every transformers call that could run a folder's code says so explicitly."""
    import ast
    import inspect

    from skmedtl.backbones import _hf

    tree = ast.parse(inspect.getsource(_hf))
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("from_pretrained", "from_config")
    ]
    assert len(calls) >= 3
    for call in calls:
        keywords = {k.arg: k.value for k in call.keywords}
        assert "trust_remote_code" in keywords, ast.unparse(call)
        assert keywords["trust_remote_code"].value is False


# -- 4. paths out of the folder, links ------------------------------------------------
def test_path_traversal_in_the_manifest_is_refused(saved, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("not the model's")
    forge(saved, "../secret.txt", outside.read_bytes())
    with pytest.raises(UnsafeModelError, match="does not hold the files"):
        skmedtl.load(saved)


def test_path_traversal_in_a_file_reference_is_refused(saved, no_escape):
    def edit(tree):
        text = json.dumps(tree)
        name = next(p for p in (saved / "skops").iterdir()).name
        tree.clear()
        tree.update(json.loads(text.replace(f"skops/{name}", "../../etc/passwd")))

    forge_tree(saved, edit)
    with pytest.raises(UnsafeModelError):
        skmedtl.load(saved)


def test_a_link_inside_the_model_is_refused(saved, tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_bytes((saved / "metadata.json").read_bytes())
    (saved / "metadata.json").unlink()
    (saved / "metadata.json").symlink_to(target)
    with pytest.raises(UnsafeModelError, match="links are refused"):
        skmedtl.load(saved)


def test_a_linked_folder_inside_the_model_is_refused(saved, tmp_path):
    real = tmp_path / "real_skops"
    (saved / "skops").rename(real)
    (saved / "skops").symlink_to(real, target_is_directory=True)
    with pytest.raises(UnsafeModelError):
        skmedtl.load(saved)


# -- 5. tampered JSON ---------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        {"$dict": [[{"$ndarray_list": [1], "dtype": "<i8", "shape": [1]}, 1]]},
        {"$dict": [[[1, [2]], 1]]},
        {"$dict": [[1]]},
        {"$dict": "x"},
        {"$random_state": [1, 2]},
        {
            "$random_state": [
                "MT19937",
                {"$ndarray_list": [1], "dtype": "<i8", "shape": [1]},
                0,
                0,
                0.0,
            ]
        },
        {"$tuple": 5},
        {"$scalar": "<f8", "value": "drop table"},
        {"$path": ["/", "etc"]},
        {"$estimator": "skmedtl.CNNFeatures", "params": [], "state": {}},
        {"$ndarray": "a999"},
    ],
)
def test_tampered_values_are_refused(saved, value, no_escape):
    """Was: TypeError / IndexError tracebacks from the decoder."""
    forge_tree(saved, lambda tree: tree["state"].update(tampered_=value))
    with pytest.raises(UnsafeModelError):
        skmedtl.load(saved)


@pytest.mark.parametrize("name", ["__class__", "__dict__", "not an identifier"])
def test_dunder_attributes_are_refused(saved, name):
    forge_tree(saved, lambda tree: tree["state"].update({name: 1}))
    with pytest.raises(UnsafeModelError, match="attribute name"):
        skmedtl.load(saved)


def test_model_json_that_is_not_json_is_refused(saved):
    forge(saved, "model.json", b"{not json")
    with pytest.raises(UnsafeModelError, match="not valid JSON"):
        skmedtl.load(saved)


# -- 6. oversized or truncated tensors, damaged side files ------------------------
def test_truncated_tensors_are_refused(saved, no_escape):
    data = (saved / "tensors.safetensors").read_bytes()
    forge(saved, "tensors.safetensors", data[: len(data) // 2])
    with pytest.raises(UnsafeModelError, match="damaged or was edited"):
        skmedtl.load(saved)


def test_a_header_claiming_huge_tensors_is_refused(saved, no_escape):
    header = json.dumps(
        {
            "n0/conv1.weight": {
                "dtype": "F32",
                "shape": [2**31, 2**31],
                "data_offsets": [0, 2**62],
            },
        }
    ).encode()
    forge(saved, "tensors.safetensors", struct.pack("<Q", len(header)) + header)
    with pytest.raises(UnsafeModelError):
        skmedtl.load(saved)


def test_oversized_tensors_do_not_fit_the_network(saved, no_escape):
    from safetensors.torch import load, save

    tensors = load((saved / "tensors.safetensors").read_bytes())
    key = next(k for k in tensors if k.endswith("weight"))
    import torch

    tensors[key] = torch.zeros(tuple(s * 4 for s in tensors[key].shape))
    forge(saved, "tensors.safetensors", save(tensors))
    with pytest.raises(UnsafeModelError, match="do not fit"):
        skmedtl.load(saved)


def test_damaged_skops_file_is_refused(saved, no_escape):
    """Was: a raw zipfile.BadZipFile traceback."""
    name = next(p for p in (saved / "skops").iterdir()).relative_to(saved)
    data = (saved / name).read_bytes()
    forge(saved, name.as_posix(), data[: len(data) // 3])
    with pytest.raises(UnsafeModelError, match="damaged or was edited"):
        skmedtl.load(saved)


def test_damaged_model_through_predict_is_a_usage_error(saved, tmp_path, capsys):
    """Was: a SafetensorError traceback from `skmedtl predict`."""
    data = (saved / "tensors.safetensors").read_bytes()
    forge(saved, "tensors.safetensors", data[:100])
    np.save(tmp_path / "scan.npy", np.zeros((28, 28), np.uint8))
    code, _, err = call_main(
        ["predict", "--model", saved, "--images", tmp_path / "scan.npy"], capsys
    )
    assert code == 2
    assert "--model" in err and "damaged or was edited" in err
    assert "Traceback" not in err
