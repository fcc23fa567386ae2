"""The hardware evaluators: accuracy from quantization or analog simulation, cost from `edgeq.hw_models`.

Config keys (parameters in the spec's space, or fixed in evaluator_options):
- digital ("quantize"): `weights`, `acts` (formats; acts defaults to weights), `layer.<node>` (a weight format
  for one layer, or "default"), `granularity` ("channel", "tensor", "block:N"), `tech` ("7nm" by default, "16nm", "45nm", ...),
  `digital_hw` (edge-npu, mcu, datacenter).
- analog ("analog"): `device` (simulator preset: ideal, ideal_adc8, rram, pcm), `adc_bits`, `dac_bits`, `tile`
  (rows = cols), `noise` (scale of programming and read noise), `drift_s` (read time after programming),
  `repeats` (Monte-Carlo chips), `seed`; for the cost: `preset` (sar8, sar5, ramp5, nl-ramp5, isaac-like),
  `adc_kind`, `weights` (the precision the cost model assumes), `tech`.
- "hardware" picks one of the two per trial from `target` ("digital" or "analog").

Digital accuracy comes from `edgeq.quantize` (option `digital_accuracy: quantize`, the default), or from the
built-in weight-only fake quantization (`digital_accuracy: weights`), which is faster but keeps activations in
float. Metrics: accuracy, accuracy_float, accuracy_drop_pp, sqnr_db, energy_pj (per inference), latency_ns,
area_mm2, tops_per_w, macs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ...errors import ConfigError, UserError
from ...hw_models import DEFAULT_TECH

COST_METRICS = ("energy_pj", "latency_ns", "area_mm2", "tops_per_w", "macs")
ACCURACY_METRICS = ("accuracy", "accuracy_float", "accuracy_drop_pp", "sqnr_db")
# The evaluator_options keys each evaluator reads (fixed config values and settings); others are typos.
DIGITAL_OPTIONS = ("digital_accuracy", "weights", "acts", "granularity", "calib_method", "tech", "digital_hw",
                   "labels_key")
ANALOG_OPTIONS = ("labels_key", "tech", "preset", "weights", "device", "drift_s", "repeats", "seed", "adc_bits",
                  "adc_kind", "dac_bits", "cols_per_adc", "cell", "tile", "noise")


def _option(config: dict[str, Any], options: dict, key: str, default=None):
    return config.get(key, options.get(key, default))


def _layer_overrides(config: dict[str, Any]) -> dict[str, str]:
    """Return node -> weight format from `layer.<node>` keys; the value "default" keeps the layer at `weights`."""
    return {k[len("layer."):]: v for k, v in config.items() if k.startswith("layer.") and v != "default"}


def canonical_layers(config: dict[str, Any], default_key: str = "weights", default: str = "int8") -> dict[str, Any]:
    """Return config without `layer.<node>` entries that repeat the default format (the same model either way)."""
    base = config.get(default_key, default)
    return {k: v for k, v in config.items() if not (k.startswith("layer.") and v in ("default", base))}


def _cost_metrics(cost) -> dict[str, float]:
    return {"energy_pj": cost.energy_pj, "latency_ns": cost.latency_ns, "area_mm2": cost.area_um2 * 1e-6,
            "tops_per_w": cost.tops_per_w, "macs": float(cost.macs)}


class DigitalEvaluator:
    """Accuracy of a quantized model and the cost of running it on a digital accelerator."""

    metrics = ACCURACY_METRICS + COST_METRICS
    options = DIGITAL_OPTIONS

    @staticmethod
    def canonical_config(config: dict[str, Any]) -> dict[str, Any]:
        """Return the config with per-layer formats equal to `weights` dropped (they change nothing)."""
        return canonical_layers(config)

    def __init__(self, task) -> None:
        self.task = task
        self.options = task.options
        backend = self.options.get("digital_accuracy", "quantize")
        if backend not in ("quantize", "weights"):
            raise ConfigError(f"evaluator_options.digital_accuracy: expected quantize or weights, got {backend!r}")
        self.backend = backend
        self._weights = None

    def evaluate(self, config: dict[str, Any]) -> dict[str, float]:
        """Return accuracy and digital cost metrics for one config."""
        model = self.task.model_path(config)
        weights = _option(config, self.options, "weights", "int8")
        acts = _option(config, self.options, "acts", weights)
        overrides = _layer_overrides(config)
        metrics = self._accuracy(model, weights, acts, overrides, config)
        plan = {"default": {"weight": weights, "act": acts},
                "layers": {name: {"weight": fmt, "act": acts} for name, fmt in overrides.items()}}
        from ... import hw_models as hw

        cost = hw.network_cost(model, plan, target="digital", tech=_option(config, self.options, "tech", DEFAULT_TECH),
                               hw=_option(config, self.options, "digital_hw", "edge-npu"))
        return {**metrics, **_cost_metrics(cost)}

    def _accuracy(self, model, weights, acts, overrides, config) -> dict[str, float]:
        if self.backend == "weights":
            from .onnx_weights import WeightQuantEvaluator

            if self._weights is None:
                self._weights = WeightQuantEvaluator(self.task)
            layer_cfg = {f"layer.{k}": v for k, v in overrides.items()}
            out = self._weights.evaluate({"model": config.get("model"), "weights": weights, **layer_cfg})
            return {k: out[k] for k in ACCURACY_METRICS}
        granularity = _option(config, self.options, "granularity", "channel")
        calib_method = _option(config, self.options, "calib_method", "minmax")
        return _quantize_accuracy(self.task, model, weights, acts, overrides, granularity, calib_method)


class AnalogEvaluator:
    """Accuracy of the model simulated on analog crossbars and the cost of those tiles."""

    metrics = ACCURACY_METRICS + COST_METRICS
    options = ANALOG_OPTIONS

    def __init__(self, task) -> None:
        from ...io import load_arrays

        self.task = task
        self.options = task.options
        if task.data is None:
            raise UserError("the analog evaluator needs eval data; add data: FILE.npz (inputs and labels)")
        arrays = load_arrays(task.data)
        self.labels = arrays.pop(self.options.get("labels_key", "labels"), None)
        self.feeds = {k: v.astype("float32") for k, v in arrays.items()}

    def evaluate(self, config: dict[str, Any]) -> dict[str, float]:
        """Return simulated accuracy (mean over repeats) and analog cost metrics for one config."""
        from ... import hw_models as hw

        model = self.task.model_path(config)
        tech = _option(config, self.options, "tech", DEFAULT_TECH)
        try:
            tile = hw.tile_preset(_option(config, self.options, "preset", "sar8"), **self._tile_overrides(config))
        except (ValueError, TypeError) as err:
            raise UserError(f"analog tile: {err}") from None
        metrics = self._accuracy(model, config)
        weights = _option(config, self.options, "weights", "int8")
        cost = hw.network_cost(model, {"default": {"weight": weights, "act": weights}}, target="analog", tech=tech,
                               hw=tile)
        return {**metrics, **_cost_metrics(cost)}

    def _accuracy(self, model: str, config: dict[str, Any]) -> dict[str, float]:
        from ...simulators import simulate
        from ...simulators.presets import get_preset

        sim = _crossbar_config(get_preset, config, self.options)
        drift_s = float(_option(config, self.options, "drift_s", 0.0))
        result = simulate(model, sim, self.feeds, labels=self.labels, drift_times=[drift_s],
                               repeats=int(_option(config, self.options, "repeats", 1)),
                               seed=int(_option(config, self.options, "seed", 0)))
        if result.accuracy is None:
            raise UserError("the eval data has no 'labels' array, so accuracy cannot be measured; add labels to data:")
        acc, ref = float(result.accuracy.mean()), float(result.fp32_accuracy)
        return {"accuracy": acc, "accuracy_float": ref, "accuracy_drop_pp": 100.0 * (ref - acc),
                "sqnr_db": min(float(result.sqnr_db.mean()), 200.0)}

    def _tile_overrides(self, config: dict[str, Any]) -> dict:
        out = {}
        for key in ("adc_bits", "adc_kind", "dac_bits", "cols_per_adc", "cell"):
            value = _option(config, self.options, key)
            if value is not None:
                out[key] = value
        size = _option(config, self.options, "tile")
        if size is not None:
            out["rows"] = out["cols"] = int(size)
        return out


def _crossbar_config(get_preset, config: dict[str, Any], options: dict):
    """Return the simulator's CrossbarConfig: a device preset with the trial's ADC/DAC bits, tile and noise scale."""
    try:
        base = get_preset(_option(config, options, "device", "rram"))
    except ValueError as err:
        raise UserError(f"device: {err}") from None
    changes = {}
    adc_bits = _option(config, options, "adc_bits")
    if adc_bits is not None:
        changes["adc"] = dataclasses.replace(base.adc, bits=int(adc_bits), clip=True)
    dac_bits = _option(config, options, "dac_bits")
    if dac_bits is not None:
        changes["dac"] = dataclasses.replace(base.dac, bits=int(dac_bits))
    size = _option(config, options, "tile")
    if size is not None:
        changes["tile"] = dataclasses.replace(base.tile, rows=int(size), cols=int(size))
    noise = _option(config, options, "noise")
    if noise is not None:  # scales programming and read noise of the device together
        device = base.device
        changes["device"] = dataclasses.replace(
            device, programming=dataclasses.replace(device.programming, scale=float(noise)),
            read=dataclasses.replace(device.read, scale=float(noise)))
    return dataclasses.replace(base, **changes)


class HardwareEvaluator:
    """Digital or analog per trial, chosen by the `target` parameter."""

    metrics = DigitalEvaluator.metrics
    options = ("target", *sorted(set(DIGITAL_OPTIONS) | set(ANALOG_OPTIONS)))
    canonical_config = staticmethod(DigitalEvaluator.canonical_config)

    def __init__(self, task) -> None:
        self.task = task
        self._targets: dict[str, Any] = {}

    def evaluate(self, config: dict[str, Any]) -> dict[str, float]:
        """Return the metrics of the config on its target."""
        target = _option(config, self.task.options, "target", "digital")
        if target not in ("digital", "analog"):
            raise UserError(f"target: expected digital or analog, got {target!r}")
        if target not in self._targets:
            cls = DigitalEvaluator if target == "digital" else AnalogEvaluator
            self._targets[target] = cls(self.task)
        return self._targets[target].evaluate(config)


def _quantize_accuracy(task, model, weights, acts, overrides, granularity, calib_method) -> dict[str, float]:
    from ... import quantize

    config = {"weights": weights, "acts": acts, "overrides": overrides or {}, "granularity": granularity,
              "calib_method": calib_method}
    result = quantize(model, config, calib=task.calib, calib_random=task.calib is None, eval=task.data,
                      progress=False)
    report = result.report
    if report.accuracy_fp32 is None:
        raise UserError("the eval data has no 'labels' array, so accuracy cannot be measured; add labels to data:")
    return {"accuracy": report.accuracy_quant, "accuracy_float": report.accuracy_fp32,
            "accuracy_drop_pp": report.accuracy_drop_pp, "sqnr_db": min(float(report.sqnr_db), 200.0)}
