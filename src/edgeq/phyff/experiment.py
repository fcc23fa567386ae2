"""One experiment: FF on the hardware vs backprop (ideal twin -> hardware) vs hardware-aware backprop, then drift.

All three methods use the same data, the same blocks and the very same physical layers. The backprop models are
trained on the layers' differentiable twins and deployed on the hardware; FF trains on the hardware itself. In
the deployment phase the hardware clock runs (drift) and new faults appear; FF keeps training online on a
stream of labelled samples. For a fair comparison the backprop models also fine-tune on the very same online
batches, the same number of updates per checkpoint (ONLINE_VARIANTS): on their time-0 twin ("bp_online",
"hwa_online"), by physics-aware training ("bp_pat": forward on the drifted hardware, backward through the time-0
twin, Wright et al. 2022), on a twin recalibrated to the drifted chip at each checkpoint ("bp_recal"), and by
physics-aware training through that recalibrated twin ("bp_pat_recal"); each then reprograms its digital
weights, as a deployed backprop system with the same labels would do.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch

from ..errors import UserError
from .data import Dataset, load_dataset
from .hardware import make_hardware
from .model import BPNet, FFNet, NetConfig, input_width, resolve_embedding
from .train import BPTrainer, FFTrainer, TrainConfig, accuracy

METHODS = ("ff", "bp", "hwa")
METHOD_LABELS = {"ff": "FF on hardware", "bp": "BP ideal -> hardware", "hwa": "HWA (noisy twin) -> hardware"}
# online backprop variant -> (trained model it starts from, BPTrainer mode, twin recalibrated at each checkpoint)
ONLINE_VARIANTS = {"bp_online": ("bp", "twin", False), "hwa_online": ("hwa", "twin", False),
                   "bp_pat": ("bp", "pat", False), "bp_recal": ("bp", "twin", True),
                   "bp_pat_recal": ("bp", "pat", True)}
DEPLOY_LABELS = {"ff": "FF on hardware (online)", "bp": "BP ideal -> hardware (frozen)",
                 "hwa": "HWA (noisy twin) -> hardware (frozen)",
                 "bp_online": "BP fine-tuned on the time-0 twin",
                 "hwa_online": "HWA fine-tuned on the noisy time-0 twin",
                 "bp_pat": "BP physics-aware (hardware forward, time-0 twin backward)",
                 "bp_recal": "BP fine-tuned on a twin recalibrated to the drifted chip",
                 "bp_pat_recal": "BP physics-aware with the recalibrated twin"}


@dataclass(frozen=True)
class DriftConfig:
    """Deployment after training: the hardware clock runs for `deploy_s` seconds, sampled at `checkpoints`.

    fault_rate: fraction of elements that break at `fault_at` (a fraction of deploy_s). online_steps: labelled
    batches trained before each checkpoint, the same for FF (on the drifted hardware) and the online backprop
    variants (0 turns online training off). backprop_updates: optimiser steps an online backprop variant takes on
    each batch (FF's step already makes `inner_steps` updates of each block on one set of physical passes).
    """

    deploy_s: float = 3600.0
    checkpoints: int = 12
    fault_rate: float = 0.05
    fault_at: float = 0.5
    online_steps: int = 10
    backprop_updates: int = 1

    def __post_init__(self) -> None:
        if (self.deploy_s <= 0 or self.checkpoints < 1 or not 0 <= self.fault_rate < 1 or self.online_steps < 0
                or self.backprop_updates < 1):
            raise UserError("drift: deploy_s > 0, checkpoints >= 1, 0 <= fault_rate < 1, online_steps >= 0, "
                            "backprop_updates >= 1 required")


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that defines a run; `seed` fixes weights, batches, negatives and hardware noise.

    train_drift_s: hardware seconds that pass per training epoch (the chip ages while FF trains on it; the
    backprop models are trained on a model of the chip as it was at time 0).
    """

    data: str = "digits"
    physical: str = "wave"
    layers: int = 3
    epochs: int = 10
    seed: int = 0
    methods: tuple[str, ...] = METHODS
    train_drift_s: float = 0.0
    net: NetConfig = field(default_factory=NetConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    drift: DriftConfig | None = field(default_factory=DriftConfig)

    def __post_init__(self) -> None:
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods:
            raise UserError(f"unknown method(s) {bad}; choose from {', '.join(METHODS)}")
        if self.train_drift_s < 0:
            raise UserError(f"train_drift_s must be >= 0, got {self.train_drift_s}")


Progress = Callable[[str, int], None]


def _build(cfg: ExperimentConfig, data: Dataset) -> tuple[list, dict]:
    embedding = resolve_embedding(cfg.net.embedding, data.n_features, data.n_classes)
    width = input_width(data.n_features, data.n_classes, embedding)
    hardware = make_hardware(cfg.physical, width, cfg.net.hidden, cfg.layers, cfg.seed)
    nets: dict = {}
    for m in cfg.methods:
        cls = FFNet if m == "ff" else BPNet
        nets[m] = cls(hardware, data.n_features, data.n_classes, cfg.net, seed=cfg.seed)
    return hardware, nets


def _trainer(method: str, net, cfg: ExperimentConfig):
    if method == "ff":
        return FFTrainer(net, cfg.train, seed=cfg.seed)
    return BPTrainer(net, cfg.train, seed=cfg.seed, noisy=method == "hwa")


def _eval(net, data: Dataset) -> float:
    return accuracy(net, data.x_test, data.y_test)


def run_experiment(cfg: ExperimentConfig, progress: Progress | None = None) -> tuple[dict, dict]:
    """Train every method, evaluate on the hardware each epoch, run the drift phase.

    Returns the JSON-ready results and the digital weights of every method as trained (before deployment), plus
    "ff_online": FF's weights after it kept training through the deployment phase (when there is one).
    """
    torch_threads = torch.get_num_threads()
    data = load_dataset(cfg.data)
    hardware, nets = _build(cfg, data)
    tick = progress or (lambda label, n: None)
    results: dict = {"config": _config_dict(cfg), "data": {"name": data.name, "train": len(data.y_train),
                     "test": len(data.y_test), "features": data.n_features, "classes": data.n_classes,
                     "embedding": nets[cfg.methods[0]].embedding}, "methods": {},
                     # wall times vary run to run: they live apart so the rest is bit-for-bit reproducible
                     "timing": {"torch_threads": torch_threads, "train_wall_s": {}, "curve_wall_s": {}}}
    trainers = {m: _trainer(m, net, cfg) for m, net in nets.items()}
    curves: dict[str, list] = {m: [] for m in nets}
    walls: dict[str, list] = {m: [] for m in nets}
    # Methods take turns epoch by epoch, so all see the chip at the same age when it drifts during training.
    for epoch in range(1, cfg.epochs + 1):
        for method, net in nets.items():
            trainer = trainers[method]
            loss = trainer.epoch(data.x_train, data.y_train)
            curves[method].append({"epoch": epoch, "loss": loss, "test_accuracy": _eval(net, data),
                                   "physical_passes": trainer.cost.physical_passes,
                                   "digital_macs": trainer.cost.digital_macs})
            walls[method].append(round(trainer.cost.wall_s, 4))
            tick(method, 1)
        if cfg.train_drift_s > 0:
            for layer in hardware:
                layer.advance(cfg.train_drift_s)
    for method, net in nets.items():
        trainer = trainers[method]
        final = curves[method][-1]["test_accuracy"] if curves[method] else _eval(net, data)
        results["methods"][method] = {"label": METHOD_LABELS[method], "test_accuracy": final,
                                      **trainer.cost.as_dict(), "curve": curves[method]}
        results["timing"]["train_wall_s"][method] = round(trainer.cost.wall_s, 4)
        results["timing"]["curve_wall_s"][method] = walls[method]
    trained = {m: {k: v.clone() for k, v in net.state_dict().items()} for m, net in nets.items()}
    if cfg.drift is not None:
        results["drift"] = run_drift(cfg.drift, cfg, hardware, nets, trainers, data, tick)
        results["timing"]["ff_online_wall_s"] = results["drift"].pop("ff_online_wall_s")
        if "ff" in nets:  # FF kept learning on the drifted chip: keep those weights too
            trained["ff_online"] = {k: v.clone() for k, v in nets["ff"].state_dict().items()}
    return results, trained


def evaluate_saved(cfg: ExperimentConfig, weights: dict, at_time_s: float, fault_rate: float) -> dict:
    """Rebuild the hardware of a run (same seed, same devices), load its weights, and return test accuracies
    after the hardware clock has run `at_time_s` seconds and a fraction `fault_rate` of elements broke."""
    data = load_dataset(cfg.data)
    hardware, nets = _build(cfg, data)
    for layer in hardware:
        layer.advance(cfg.train_drift_s * cfg.epochs + at_time_s)
        if fault_rate > 0:
            layer.add_faults(fault_rate, seed=cfg.seed * 1000 + 700)
    out = {}
    # "ff_online": the FF weights after the deployment phase, evaluated on the FF network
    for m in [m for m in (*METHODS, "ff_online") if m in weights]:
        net = nets.get("ff" if m == "ff_online" else m)
        if net is None:
            continue
        try:
            net.load_state_dict(weights[m])
        except RuntimeError as err:
            detail = str(err).strip().splitlines()[-1].strip()
            raise UserError(f"saved weights for {m} do not fit the network of this run ({detail})") from None
        out[m] = _eval(net, data)
    return out


def run_drift(drift: DriftConfig, cfg: ExperimentConfig, hardware: list, nets: dict, trainers: dict,
              data: Dataset, tick: Progress) -> dict:
    """Run the deployment phase and return accuracy vs hardware time for every method."""
    rng = np.random.default_rng(cfg.seed + 99)
    times = [drift.deploy_s * i / drift.checkpoints for i in range(drift.checkpoints + 1)]
    curves: dict[str, list[float]] = {m: [] for m in nets}
    faulted = False
    online_passes0 = trainers["ff"].cost.physical_passes if "ff" in trainers else 0
    online_wall = 0.0
    tuned = _online_backprop(drift, cfg, hardware, nets, trainers, data)
    curves.update({m: [] for m in tuned})
    recal = [m for m in tuned if ONLINE_VARIANTS[m][2]]
    recalibrations = 0
    for i, t in enumerate(times):
        if i > 0:
            for layer in hardware:
                layer.advance(t - times[i - 1])
            if not faulted and drift.fault_rate > 0 and t >= drift.fault_at * drift.deploy_s:
                for k, layer in enumerate(hardware):
                    layer.add_faults(drift.fault_rate, seed=cfg.seed * 1000 + 500 + k)
                faulted = True
            if drift.online_steps > 0:
                idx = rng.integers(0, len(data.y_train), size=(drift.online_steps, cfg.train.batch_size))
                t0 = time.perf_counter()
                for batch in torch.from_numpy(idx) if "ff" in trainers else ():
                    trainers["ff"].step(data.x_train[batch], data.y_train[batch])
                online_wall += time.perf_counter() - t0
                if recal:  # measure the chip as it is now (an oracle: the simulator hands over its transfer)
                    twins = [layer.recalibrated_twin() for layer in hardware]
                    recalibrations += 1
                    for m in recal:
                        tuned[m][1].twins = twins
                for _, trainer in tuned.values():  # the same batches: fine-tune the twin, then reprogram
                    for batch in torch.from_numpy(idx):
                        for _ in range(drift.backprop_updates):
                            trainer.step(data.x_train[batch], data.y_train[batch])
        for m, net in [*nets.items(), *((m, net) for m, (net, _) in tuned.items())]:
            curves[m].append(_eval(net, data))
        tick("drift", 1)
    ff_passes = (trainers["ff"].cost.physical_passes - online_passes0) if "ff" in trainers else 0
    online_passes = {"ff": ff_passes, **{m: trainer.cost.physical_passes for m, (_, trainer) in tuned.items()}}
    return {"times_s": times, "accuracy": curves, "labels": {m: DEPLOY_LABELS[m] for m in curves},
            "fault_rate": drift.fault_rate,
            "fault_at_s": drift.fault_at * drift.deploy_s if drift.fault_rate > 0 else None,
            "ff_online_physical_passes": ff_passes, "online_physical_passes": online_passes,
            "online_batches": drift.checkpoints * drift.online_steps,
            "backprop_updates_per_batch": drift.backprop_updates,
            # probe inputs a real recalibration of every layer would need, times the recalibrations done
            "recalibration_passes": recalibrations * sum(layer.calibration_passes for layer in hardware),
            "ff_online_wall_s": round(online_wall, 4)}


def _online_backprop(drift: DriftConfig, cfg: ExperimentConfig, hardware: list, nets: dict, trainers: dict,
                     data: Dataset) -> dict:
    """Return {variant: (net, trainer)} for the ONLINE_VARIANTS whose trained model exists: copies of the trained
    backprop models on the same hardware, whose trainers continue (Adam state included) on the online batches.
    The recalibrated variants are left out when a physical layer cannot be recalibrated."""
    tuned = {}
    can_recalibrate = all(layer.can_recalibrate for layer in hardware)
    for variant, (m, mode, recal) in ONLINE_VARIANTS.items():
        if m not in nets or drift.online_steps == 0 or (recal and not can_recalibrate):
            continue
        net = BPNet(hardware, data.n_features, data.n_classes, cfg.net, seed=cfg.seed)
        net.load_state_dict(nets[m].state_dict())
        trainer = BPTrainer(net, cfg.train, seed=cfg.seed + 1, noisy=m == "hwa", mode=mode)
        trainer.opt.load_state_dict(trainers[m].opt.state_dict())
        tuned[variant] = (net, trainer)
    return tuned


def total_ticks(cfg: ExperimentConfig) -> int:
    """Return the number of progress ticks a run makes (for the progress bar)."""
    return len(cfg.methods) * cfg.epochs + (cfg.drift.checkpoints + 1 if cfg.drift else 0)


def _config_dict(cfg: ExperimentConfig) -> dict:
    d = asdict(cfg)
    d["methods"] = list(cfg.methods)
    return d


def config_from_dict(d: dict) -> ExperimentConfig:
    """Return the ExperimentConfig that `_config_dict` wrote (as stored in results.json)."""
    try:
        return ExperimentConfig(
            data=d["data"], physical=d["physical"], layers=d["layers"], epochs=d["epochs"], seed=d["seed"],
            methods=tuple(d["methods"]), train_drift_s=d.get("train_drift_s", 0.0), net=NetConfig(**d["net"]),
            train=TrainConfig(**d["train"]),
            drift=DriftConfig(**d["drift"]) if d.get("drift") else None,
        )
    except (KeyError, TypeError) as err:
        raise UserError(
            f"results.json has no valid experiment config ({err}); was it written by edgeq phyff?"
        ) from None
