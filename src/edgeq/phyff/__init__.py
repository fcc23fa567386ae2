"""Physical forward-forward: train networks whose layers are black-box (simulated) hardware, without backprop.

Physical layers (`PhysicalLayer`: `WaveLayer`, `CallableLayer`, `IdentityLayer`, `CrossbarLayer`) are only ever
run forward; `FFNet` + `FFTrainer` update the digital Linear layers around them with a local goodness per block;
`BPNet` + `BPTrainer` are the backprop baselines through the layers' twins; `run_experiment` compares them and
runs a drifting deployment.
"""

from .data import DATASETS, Dataset, load_dataset
from .experiment import DriftConfig, ExperimentConfig, run_experiment
from .goodness import goodness, local_loss
from .hardware import make_hardware, make_physical
from .model import BPNet, FFNet, NetConfig
from .physical import CallableLayer, IdentityLayer, PhysicalLayer, WaveLayer
from .train import BPTrainer, FFTrainer, TrainConfig, accuracy


def __getattr__(name: str):
    # CrossbarLayer imports the crossbar simulator; load it only when asked for.
    if name == "CrossbarLayer":
        from .crossbar_layer import CrossbarLayer

        return CrossbarLayer
    raise AttributeError(name)


__all__ = [
    "DATASETS", "Dataset", "load_dataset", "DriftConfig", "ExperimentConfig", "run_experiment", "goodness",
    "local_loss", "make_hardware", "make_physical", "BPNet", "FFNet", "NetConfig", "CallableLayer", "IdentityLayer",
    "PhysicalLayer", "WaveLayer", "CrossbarLayer", "BPTrainer", "FFTrainer", "TrainConfig", "accuracy",
]
