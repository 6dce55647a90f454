"""The benchmark's figures draw whatever a sweep can hold: numbers, and values that are not."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from evaluation.plots import plot_sweep, sweep_figure  # noqa: E402


def _sweep(values: list) -> dict:
    return {"env": "EdgePFMCache-v2", "param": "capacity", "values": values,
            "agents": {"lc": {"mean_cost": [10.0, None], "ci95": [1.0, None]},
                       "cost_benefit": {"mean_cost": [8.0, 9.0], "ci95": [0.5, 0.7]}},
            "lower_bound": [5.0, 6.0]}


def test_a_sweep_over_mappings_is_plotted_with_their_json_as_labels(tmp_path):
    values = [{"gpu_throughput": 0.5}, {"gpu_throughput": 2}]
    path = plot_sweep(_sweep(values), tmp_path / "sweep_capacity.png")
    assert path.stat().st_size > 10_000


def test_a_numeric_sweep_keeps_its_numeric_axis(tmp_path):
    path = plot_sweep(_sweep([40, 80]), tmp_path / "sweep_gpu_gb.png")
    assert path.stat().st_size > 10_000


def test_the_sweep_axis_shows_each_value():
    mappings = sweep_figure(_sweep([{"gpu_throughput": 0.5}, {"gpu_throughput": 2}]))
    ax = mappings.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ['{"gpu_throughput":0.5}',
                                                              '{"gpu_throughput":2}']
    assert list(ax.get_xticks()) == [0, 1]
    numbers = sweep_figure(_sweep([40, 80]))
    lines = [line for line in numbers.axes[0].get_lines() if len(line.get_xdata()) == 2]
    assert lines and all(list(line.get_xdata()) == [40, 80] for line in lines)
    matplotlib.pyplot.close("all")
