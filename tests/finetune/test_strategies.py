"""Every strategy, fitted with the shipped EfficientNet-Lite0 ImageNet weights.

Frozen means frozen: after ``fit`` the frozen groups' parameters and BatchNorm
buffers are bitwise the shipped ones, the trainable ones changed, frozen
BatchNorm layers were in eval mode during training, and the optimizer held
exactly the trainable parameters at every stage.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from skmedtl.finetune import FreezePlan
from skmedtl.finetune._training import Trainer
from tests._helpers import slow_except

from .conftest import make_clf, stripes

CASES = {
    "feature_extractor": dict(strategy="feature_extractor"),
    "fine_tune": dict(strategy="fine_tune", trainable_blocks=1),
    "fine_tune_3": dict(strategy="fine_tune", trainable_blocks=3),
    # monitor="accuracy" saturates on this easy task, so the schedule advances.
    "gradual": dict(
        strategy="gradual",
        monitor="accuracy",
        patience=1,
        max_epochs=8,
        early_stopping=False,
        lr_decay=0.5,
    ),
    "full": dict(strategy="full"),
    "random_init": dict(strategy="random_init"),
}


class Recorder:
    """Spies on ``Trainer.set_stage``: what trains, what the optimizer holds."""

    def __init__(self):
        self.initial_state = None
        self.stages = []  # (trainable ids, optimizer ids, names) per set_stage
        self.bn_modes = {}  # BN module name -> set of `training` seen in training
        self.handles = []

    def wrap(self, original):
        def set_stage(trainer, stage):
            if self.initial_state is None:
                self.initial_state = {
                    k: v.detach().clone()
                    for k, v in trainer.network.state_dict().items()
                }
                self._hook(trainer.network.backbone)
            original(trainer, stage)
            trainable = {id(p) for p in trainer.network.parameters() if p.requires_grad}
            held = [p for g in trainer.optimizer.param_groups for p in g["params"]]
            self.stages.append(
                (trainable, [id(p) for p in held], list(trainer.trainable))
            )

        return set_stage

    def _hook(self, backbone):
        for name, module in backbone.named_modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):

                def hook(module, inputs, name=name):
                    if torch.is_grad_enabled():  # a training pass, not validation
                        self.bn_modes.setdefault(name, set()).add(module.training)

                self.handles.append(module.register_forward_pre_hook(hook))

    def remove_hooks(self):
        for handle in self.handles:
            handle.remove()


@pytest.fixture(scope="module")
def fitted(stripes_data):
    """``fitted(case) -> (classifier, recorder)``, each case fitted once."""
    X, y = stripes_data
    cache = {}

    def get(case):
        if case not in cache:
            recorder = Recorder()
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(Trainer, "set_stage", recorder.wrap(Trainer.set_stage))
                clf = make_clf(**CASES[case]).fit(X, y)
            recorder.remove_hooks()
            cache[case] = clf, recorder
        return cache[case]

    return get


def _plan(clf) -> FreezePlan:
    return FreezePlan.from_groups(clf.model_.block_groups(), 0)


def _ever_trained(clf) -> set[str]:
    return {g for e in clf.history_ for g in e["trainable"]} - {"head"}


def _trained_at_best(clf) -> set[str]:
    """Groups whose training the restored weights hold: those of the best epoch.

    For ``gradual``, groups unfrozen after the best epoch are restored to the
    weights they had then (the shipped ones).
    """
    return set(clf.history_[clf.best_epoch_ - 1]["trainable"]) - {"head"}


def _changed_groups(state, reference, plan) -> set[str]:
    return {
        plan.group_of(k) for k, v in state.items() if not torch.equal(v, reference[k])
    }


@pytest.mark.parametrize(
    "case",
    slow_except(["feature_extractor", "fine_tune"], CASES),
)
def test_frozen_parameters_and_bn_buffers_are_the_shipped_ones(
    fitted, shipped_state, case
):
    clf, _ = fitted(case)
    plan, trained = _plan(clf), _trained_at_best(clf)
    state = clf.model_.backbone.state_dict()
    frozen = [k for k in state if plan.group_of(k) not in trained]
    if case in ("full", "random_init"):
        assert frozen == []
        if case == "random_init":  # it started from random weights
            convs = [k for k in state if "conv" in k and k.endswith("weight")]
            assert not any(torch.equal(state[k], shipped_state[k]) for k in convs)
        return
    assert frozen, "nothing frozen: the case does not test freezing"
    assert any("running_mean" in k for k in frozen)
    for k in frozen:
        assert torch.equal(state[k], shipped_state[k]), k


@pytest.mark.parametrize("case", CASES)
def test_trainable_parameters_and_the_head_changed(fitted, case):
    clf, recorder = fitted(case)
    plan, trained = _plan(clf), _trained_at_best(clf)
    initial = recorder.initial_state
    final = clf.model_.state_dict()
    for name in ("head.weight", "head.bias"):
        assert not torch.equal(final[name], initial[name])
    for name, param in clf.model_.backbone.named_parameters():
        before = initial[f"backbone.{name}"]
        assert torch.equal(param, before) is (plan.group_of(name) not in trained), name
    # Trainable BatchNorm layers were in training mode: their statistics moved.
    for name, buf in clf.model_.backbone.named_buffers():
        if name.endswith("running_mean") and plan.group_of(name) in trained:
            assert not torch.equal(buf, initial[f"backbone.{name}"]), name


def test_fine_tune_top_block_changes_only_the_top_group_and_head(fitted, shipped_state):
    clf, _ = fitted("fine_tune")
    plan = _plan(clf)
    changed = _changed_groups(clf.model_.backbone.state_dict(), shipped_state, plan)
    assert changed == {plan.group_names[-1]} == {"blocks.6"}
    assert all(e["trainable"] == ["head", "blocks.6"] for e in clf.history_)
    clf3, _ = fitted("fine_tune_3")
    changed3 = _changed_groups(clf3.model_.backbone.state_dict(), shipped_state, plan)
    assert changed3 == set(plan.group_names[-3:])


@pytest.mark.parametrize("case", CASES)
def test_frozen_batchnorm_stays_in_eval_mode_while_training(fitted, case):
    clf, recorder = fitted(case)
    plan, trained = _plan(clf), _ever_trained(clf)
    if case == "feature_extractor":
        # Trained on precomputed embeddings: the backbone never ran in training.
        assert recorder.bn_modes == {}
        return
    assert recorder.bn_modes, "no training pass was recorded"
    for name, modes in recorder.bn_modes.items():
        if plan.group_of(name) not in trained:
            assert modes == {False}, name
    if case != "gradual":  # gradual's groups are frozen in early stages
        for name, modes in recorder.bn_modes.items():
            if plan.group_of(name) in trained:
                assert modes == {True}, name


@pytest.mark.parametrize("case", CASES)
def test_optimizer_holds_exactly_the_trainable_parameters(fitted, case):
    clf, recorder = fitted(case)
    stages = sorted({e["stage"] for e in clf.history_})
    assert len(recorder.stages) == len(stages)  # rebuilt once per stage, no more
    for trainable, held, _ in recorder.stages:
        assert len(held) == len(set(held))
        assert set(held) == trainable
    # What history_ reports is what the optimizer held.
    by_name = {}
    for name, param in clf.model_.named_parameters():
        group = (
            "head"
            if name.startswith("head.")
            else _plan(clf).group_of(name.removeprefix("backbone."))
        )
        by_name.setdefault(group, set()).add(id(param))
    for _, held, names in recorder.stages:
        assert set(held) == set().union(*(by_name[n] for n in names))
    last = recorder.stages[-1]
    expected = sum(p.numel() for p in clf.model_.parameters() if id(p) in set(last[1]))
    assert clf.n_trainable_params_ == expected == clf.history_[-1]["n_trainable_params"]


def test_feature_extractor_trains_only_the_head(fitted):
    clf, _ = fitted("feature_extractor")
    assert clf.n_trainable_params_ == 1280 * 2 + 2
    assert clf.features_ is not None  # trained on embeddings of the frozen backbone


def test_gradual_unfreezes_top_down_with_lower_rates_for_deeper_groups(fitted):
    clf, recorder = fitted("gradual")
    top_down = list(reversed(_plan(clf).group_names))
    trainable = [e["trainable"] for e in clf.history_]
    stages = [e["stage"] for e in clf.history_]
    assert len(set(stages)) >= 3, "the schedule did not advance; test is moot"
    assert stages == sorted(stages)
    for entry in clf.history_:
        k = entry["stage"]
        # Stage k trains the head and the top k groups, nothing else.
        assert entry["trainable"] == ["head", *top_down[:k]]
        rates = [entry["lr"][name] for name in entry["trainable"]]
        assert rates == pytest.approx([clf.lr * 0.5**d for d in range(k + 1)])
        assert all(a > b for a, b in zip(rates, rates[1:], strict=False))
    # It advanced only when the monitor had stopped improving.
    for before, after in zip(clf.history_, clf.history_[1:], strict=False):
        if after["stage"] != before["stage"]:
            assert not before["best"]
    # The trainable set grew: each stage's set contains the previous one.
    sets = [set(t) for t in trainable]
    assert all(a <= b for a, b in zip(sets, sets[1:], strict=False))
    assert [names for *_, names in recorder.stages] == [
        ["head", *top_down[:k]] for k in sorted(set(stages))
    ]


@pytest.mark.parametrize("case", ["feature_extractor", "fine_tune"])
def test_pretrained_features_solve_the_easy_task(fitted, case):
    clf, _ = fitted(case)
    X, y = stripes(16, seed=1)  # new images
    assert clf.score(X, y) >= 0.8


def test_history_records_losses_metrics_and_times(fitted):
    clf, _ = fitted("fine_tune")
    assert [e["epoch"] for e in clf.history_] == list(range(1, clf.n_epochs_ + 1))
    for e in clf.history_:
        for key in ("train_loss", "valid_loss", "valid_accuracy", "valid_roc_auc"):
            assert np.isfinite(e[key])
        assert e["duration"] > 0
    assert clf.best_epoch_ in [e["epoch"] for e in clf.history_ if e["best"]]
    assert clf.fit_time_ >= clf.training_time_ > 0
