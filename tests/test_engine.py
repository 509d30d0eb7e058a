"""The shared training engine (speechtok/train/engine.py): the time budget and what follows a step,
on a stand-in trainer (each real trainer's exact resume is tested with the trainer)."""

from __future__ import annotations

import random
import time
from types import SimpleNamespace

import numpy as np
import torch

from speechtok.train.engine import Budget, after_step, lr_warm_cosine


class _Fabric:  # what after_step asks of Fabric, in one process
    world_size, is_global_zero = 1, True

    def __init__(self):
        self.logged = []

    def log_dict(self, metrics, step):
        self.logged.append(step)


class _Bar:
    def __init__(self):
        self.lines = []

    def write(self, line):
        self.lines.append(line)


class _Trainer:
    def __init__(self):
        self.step, self.fabric, self.events = 0, _Fabric(), []

    def validate(self):
        torch.rand(3), np.random.rand(), random.random()  # a validation that draws random numbers
        self.events.append(("validate", self.step))
        return {"valid_loss": 1.0}

    def save_checkpoint(self):
        self.events.append(("checkpoint", self.step))


def _streams():
    return torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()


def test_after_step_validates_then_checkpoints_stops_at_the_budget_and_leaves_the_random_streams():
    t = SimpleNamespace(valid_every=2, checkpoint_every=3)
    trainer, bar, budget = _Trainer(), _Bar(), Budget(max_steps=5)
    reason = ""
    while not reason:
        trainer.step += 1
        before = _streams()
        reason = after_step(trainer, t, bar, budget, last=10)
        after = _streams()
        assert torch.equal(before[0], after[0]) and np.array_equal(before[1], after[1]) and before[2] == after[2]
    assert trainer.step == 5 and reason == "max_steps"
    # validation first: the checkpoint of a step holds what its validation found (the refiner's best)
    assert trainer.events == [("validate", 2), ("checkpoint", 3), ("validate", 4), ("checkpoint", 5)]
    assert trainer.fabric.logged == [2, 4]
    assert bar.lines[-1] == "stopping at step 5: max_steps=5 reached (resume with --resume)"


def test_a_trainer_with_its_own_record_gets_every_step_and_the_last_step_is_validated_and_saved():
    t = SimpleNamespace(valid_every=4, checkpoint_every=100)
    trainer, bar = _Trainer(), _Bar()
    records = []
    trainer.log_step = lambda metrics: records.append((trainer.step, metrics))
    for _ in range(6):
        trainer.step += 1
        assert after_step(trainer, t, bar, Budget(), last=6, announce=False) == ""
    assert records == [(1, {}), (2, {}), (3, {}), (4, {"valid_loss": 1.0}), (5, {}), (6, {"valid_loss": 1.0})]
    assert trainer.events == [("validate", 4), ("validate", 6), ("checkpoint", 6)]
    assert trainer.fabric.logged == [] and bar.lines == []


def test_budget_counts_what_earlier_sessions_spent():
    fabric = _Fabric()
    assert Budget().spent(fabric, 10**9) == ""  # no limits
    wall = Budget(max_minutes=1, wall_seconds=59.9)
    assert wall.spent(fabric, 1) == "" and wall.wall() >= 59.9
    time.sleep(0.15)
    assert wall.spent(fabric, 1) == "max_minutes"
    cpu = Budget(max_cpu_minutes=1, max_minutes=60, cpu_seconds=59.95)
    assert cpu.spent(fabric, 1) == ""
    t0 = time.process_time()
    while time.process_time() - t0 < 0.1:
        pass
    assert cpu.spent(fabric, 1) == "max_cpu_minutes" and cpu.cpu() >= 60


def test_the_tts_schedule_warms_up_then_decays_to_zero():
    assert lr_warm_cosine(0, 1.0, 10, 100) == 0.1
    assert lr_warm_cosine(9, 1.0, 10, 100) < 1.0 and lr_warm_cosine(50, 1.0, 10, 100) == 0.5 * (1 + np.cos(np.pi / 2))
    assert lr_warm_cosine(100, 1.0, 10, 100) == 0.0 == lr_warm_cosine(150, 1.0, 10, 100)
