"""Networks as a recipe plus a safetensors state dict.

A network is never stored as code or as a pickled module: the directory records
what builds it (the registry backbone, and for a fine-tuned network its number
of classes and pooling) and its tensors. Loading builds the architecture with
random weights (no weights file, no download), then loads the tensors with
``strict=True``, so every saved tensor has a place and every place a tensor.
"""

from __future__ import annotations

__all__ = ["encode_network", "decode_network"]

#: Recipe kinds that :func:`decode_network` rebuilds.
KINDS = ("backbone", "finetune_network")


def encode_network(module, where: str, owner, writer) -> dict:
    """A JSON recipe for ``module``; its tensors go to ``writer``."""
    from torch import nn

    from ..finetune import FineTuneNetwork

    for prefix, known in writer.modules.values():
        if known is module:
            return {"$network_ref": prefix, "submodule": ""}
        for name, sub in known.named_modules():
            if sub is module and name:
                return {"$network_ref": prefix, "submodule": name}
    prefix = f"n{len(writer.modules)}"
    if type(module) is FineTuneNetwork:
        recipe = {
            "kind": "finetune_network",
            "backbone": module.backbone_name,
            "n_classes": int(module.head.out_features),
            "pooling": module.pooling,
        }
    else:
        backbone = getattr(owner, "backbone", None)
        if not isinstance(backbone, str):
            raise TypeError(
                f"{where}: cannot save a {type(module).__name__} network that does "
                "not belong to an estimator with a registered backbone."
            )
        from ..backbones import get_backbone

        spec = get_backbone(backbone)
        recipe = {
            "kind": "backbone",
            "backbone": backbone,
            "identity": [
                name
                for name in spec.head_modules(module)
                if isinstance(module.get_submodule(name), nn.Identity)
            ],
        }
    recipe["training"] = bool(module.training)
    recipe["frozen"] = [
        name for name, p in module.named_parameters() if not p.requires_grad
    ]
    recipe["tensors"] = prefix
    writer.modules[id(module)] = (prefix, module)
    writer.add_state_dict(prefix, module.state_dict())
    return {"$network": recipe}


def decode_network(value: dict, reader):
    """Rebuild the network a recipe describes and load its tensors."""
    from ..utils._naming import check_choice

    if "$network_ref" in value:
        module = reader.modules[value["$network_ref"]]
        name = value.get("submodule", "")
        return module.get_submodule(name) if name else module
    recipe = value["$network"]
    check_choice("network kind", recipe.get("kind"), KINDS)
    from torch import nn

    from ..backbones import get_backbone
    from ..backbones._weights import build_with_weights
    from ..finetune import FineTuneNetwork
    from ..finetune._network import _replace_module

    spec = get_backbone(recipe["backbone"])
    # Random initialisation under a fixed, forked seed: the caller's random state
    # is untouched; the values are overwritten by the saved tensors.
    model, _ = build_with_weights(spec, None, random_state=0, progress=False)
    if recipe["kind"] == "finetune_network":
        model = FineTuneNetwork(
            recipe["backbone"], model, int(recipe["n_classes"]), recipe["pooling"]
        )
    else:
        for name in recipe.get("identity", []):
            _replace_module(model, name, nn.Identity())
    state = reader.state_dict(recipe["tensors"])
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ValueError(
            f"The saved tensors of {recipe['backbone']!r} do not fit the network "
            f"this version of skmedtl builds for it: {e}"
        ) from e
    model.train(bool(recipe.get("training", False)))
    frozen = set(recipe.get("frozen", []))
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name not in frozen)
    reader.modules[recipe["tensors"]] = model
    return model
