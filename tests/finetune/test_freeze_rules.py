"""The freeze rules on their own: strategies, freeze plans, optimizer groups."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from skmedtl.backbones import create_backbone, get_backbone
from skmedtl.finetune import STRATEGIES, FineTuneNetwork, FreezePlan
from skmedtl.finetune._optim import build_optimizer, parameter_groups
from skmedtl.finetune._strategies import resolve_strategy

N_GROUPS = 8  # EfficientNet-Lite0: stem, blocks.0 ... blocks.6


@pytest.fixture(scope="module")
def network():
    backbone = create_backbone("efficientnet_lite0", weights=None, random_state=0)
    return FineTuneNetwork("efficientnet_lite0", backbone, n_classes=3)


@pytest.mark.parametrize(
    "strategy, blocks, pretrained, schedule",
    [
        ("feature_extractor", None, True, [0]),
        ("feature_extractor", 5, True, [0]),
        ("fine_tune", None, True, [1]),
        ("fine_tune", 3, True, [3]),
        ("fine_tune", 0, True, [0]),
        ("gradual", None, True, list(range(N_GROUPS + 1))),
        ("gradual", 2, True, [0, 1, 2]),
        ("full", None, True, [N_GROUPS]),
        ("random_init", 1, False, [N_GROUPS]),
    ],
)
def test_strategy_schedules(strategy, blocks, pretrained, schedule):
    s = resolve_strategy(strategy, blocks, N_GROUPS)
    assert s.pretrained is pretrained
    assert [s.n_trainable(stage) for stage in range(s.n_stages)] == schedule
    assert s.trains_backbone is (max(schedule) > 0)


@pytest.mark.parametrize(
    "strategy, blocks, match",
    [
        ("finetune", None, "Did you mean 'fine_tune'"),
        ("gradul", None, "Did you mean 'gradual'"),
        ("fine_tune", N_GROUPS + 1, f"only {N_GROUPS} block groups"),
        ("gradual", -1, "trainable_blocks must be an integer >= 0"),
        ("fine_tune", 1.5, "trainable_blocks must be an integer >= 0"),
    ],
)
def test_strategy_errors_name_the_fix(strategy, blocks, match):
    with pytest.raises(ValueError, match=match):
        resolve_strategy(strategy, blocks, N_GROUPS)


def test_every_strategy_is_documented_in_the_estimator():
    from skmedtl.finetune import FineTuneClassifier

    for name in STRATEGIES:
        assert f'``"{name}"``' in FineTuneClassifier.__doc__


def _group_params(network, group):
    plan = FreezePlan.from_groups(network.block_groups(), 0)
    return [
        p for n, p in network.backbone.named_parameters() if plan.group_of(n) == group
    ]


@pytest.mark.parametrize("n_trainable", [0, 1, 3, N_GROUPS])
def test_plan_freezes_all_but_the_top_groups(network, n_trainable):
    groups = network.block_groups()
    plan = FreezePlan.from_groups(groups, n_trainable)
    plan.apply(network.backbone)
    names = [g for g, _ in groups]
    top = names[len(names) - n_trainable :]
    assert set(plan.trainable_groups) == set(top)
    for group in names:
        params = _group_params(network, group)
        assert params, f"group {group} has no parameters"
        assert all(p.requires_grad is (group in top) for p in params)
    # Frozen modules stay in eval mode even after the network is put in training.
    network.train()
    plan.eval_frozen(network.backbone)
    for name, module in network.backbone.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            assert module.training is plan.is_trainable(name), name


def test_whole_backbone_frozen_is_one_eval_module(network):
    plan = FreezePlan.from_groups(network.block_groups(), 0)
    assert plan.frozen_modules(network.backbone) == [""]
    plan_all = FreezePlan.from_groups(network.block_groups(), N_GROUPS)
    assert plan_all.frozen_modules(network.backbone) == []


def test_parameterless_modules_inside_a_frozen_block_are_frozen_too():
    # A dropout inside a frozen block must not drop at training time.
    backbone = nn.Sequential(
        nn.Sequential(nn.Conv2d(3, 4, 3), nn.Dropout(0.5), nn.BatchNorm2d(4)),
        nn.Sequential(nn.Conv2d(4, 4, 3), nn.Dropout(0.5)),
    )
    plan = FreezePlan.from_groups([("low", ["0"]), ("top", ["1"])], 1)
    plan.apply(backbone)
    backbone.train()
    plan.eval_frozen(backbone)
    assert plan.frozen_modules(backbone) == ["0"]
    assert not backbone[0][1].training and not backbone[0][2].training
    assert backbone[1][1].training


def test_ungrouped_parameters_train_only_with_the_stem():
    backbone = nn.Module()
    backbone.a = nn.Linear(2, 2)
    backbone.b = nn.Linear(2, 2)
    backbone.extra = nn.Parameter(torch.zeros(2))
    groups = [("stem", ["a"]), ("top", ["b"])]
    FreezePlan.from_groups(groups, 1).apply(backbone)
    assert not backbone.extra.requires_grad and backbone.b.weight.requires_grad
    FreezePlan.from_groups(groups, 2).apply(backbone)
    assert backbone.extra.requires_grad


@pytest.mark.parametrize("n_trainable", [0, 2, N_GROUPS])
@pytest.mark.parametrize("name", ["adamw", "adam", "sgd"])
def test_optimizer_holds_exactly_the_trainable_parameters(network, n_trainable, name):
    plan = FreezePlan.from_groups(network.block_groups(), n_trainable)
    plan.apply(network.backbone)
    network.head.requires_grad_(True)
    groups = parameter_groups(network.head, network.backbone, plan, 1e-3, 0.5)
    optimizer = build_optimizer(name, groups, weight_decay=0.0)
    held = [p for g in optimizer.param_groups for p in g["params"]]
    trainable = [p for p in network.parameters() if p.requires_grad]
    assert len(held) == len({id(p) for p in held})  # no parameter twice
    assert {id(p) for p in held} == {id(p) for p in trainable}


def test_deeper_groups_get_lower_learning_rates(network):
    plan = FreezePlan.from_groups(network.block_groups(), 4)
    groups = parameter_groups(network.head, network.backbone, plan, 1e-2, 0.5)
    names = [g["name"] for g in groups]
    assert names == ["head", "blocks.6", "blocks.5", "blocks.4", "blocks.3"]
    assert [g["lr"] for g in groups] == pytest.approx(
        [1e-2 * 0.5**depth for depth in range(5)]
    )


def test_unknown_optimizer_suggests_a_name():
    with pytest.raises(ValueError, match="Did you mean 'adamw'"):
        build_optimizer("adamww", [], 0.0)


@pytest.mark.parametrize("name", ["lenet5", "resnet18"])
def test_network_replaces_the_original_head(name):
    spec = get_backbone(name)
    backbone = create_backbone(name, weights=None, random_state=0)
    net = FineTuneNetwork(name, backbone, n_classes=4)
    assert net.head.out_features == 4
    for head in spec.head_modules(create_backbone(name, weights=None)):
        assert isinstance(net.backbone.get_submodule(head), nn.Identity)
    out = net.eval()(torch.zeros(2, 3, 32, 32))
    assert out.shape == (2, 4)
