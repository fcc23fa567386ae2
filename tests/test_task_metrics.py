"""Task metrics of an approximation against its FP32 reference (edgeq.metrics), and simulate's task_metric hook."""

import numpy as np
import pytest
from edgeq.metrics import cosine_similarity, ctc_exact_match, ctc_greedy_decode, mask_iou


def test_cosine_similarity_is_one_for_a_scaled_copy_and_zero_for_orthogonal_rows():
    a = np.array([[1.0, 2.0, 0.0], [0.0, 0.0, 3.0]])
    assert cosine_similarity(a, 5 * a) == pytest.approx(1.0)
    assert cosine_similarity(a, np.array([[-2.0, 1.0, 0.0], [1.0, 0.0, 0.0]])) == pytest.approx(0.0)


def test_mask_iou_counts_pixels_over_the_threshold():
    ref = np.array([[0.9, 0.9, 0.1, 0.1]])
    assert mask_iou(ref, ref, 0.3) == 1.0
    assert mask_iou(ref, np.array([[0.9, 0.1, 0.9, 0.1]]), 0.3) == pytest.approx(1 / 3)
    assert mask_iou(np.zeros((2, 2)), np.zeros((2, 2)), 0.3) == 1.0


def test_ctc_greedy_decode_merges_repeats_and_drops_blanks():
    steps = [1, 1, 0, 1, 2, 2, 0]  # -> 1, 1, 2
    scores = np.eye(3)[steps][None]
    assert ctc_greedy_decode(scores) == [(1, 1, 2)]
    other = np.eye(3)[[1, 0, 0, 1, 2, 2, 2]][None]  # the same string through other steps
    assert ctc_exact_match(scores, other) == 1.0
    assert ctc_exact_match(scores, np.eye(3)[[1, 1, 1, 1, 2, 2, 0]][None]) == 0.0


def test_simulate_scores_each_chip_and_time_with_the_task_metric():
    from edgeq.examples import example_path
    from edgeq.simulators import simulate

    calls = []

    def metric(ref, out):
        calls.append(out.shape)
        return float(np.mean(np.argmax(ref, -1) == np.argmax(out, -1)))

    ideal = simulate(example_path("digits_mlp.onnx"), "ideal", example_path("digits_eval.npz"), drift_times=(1.0, 3600.0),
                     repeats=2, task_metric=metric)
    assert ideal.task.shape == (2, 2) and np.all(ideal.task == 1.0) and len(calls) == 4
    noisy = simulate(example_path("digits_mlp.onnx"), "rram", example_path("digits_eval.npz"), drift_times=(1.0,), repeats=1,
                     task_metric=metric)
    assert noisy.task[0, 0] < 1.0 and noisy.summary()[0]["task_mean"] == noisy.task[0, 0]
