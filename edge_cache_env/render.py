"""Text rendering of the cache state (``render_mode="ansi"``)."""

from __future__ import annotations

from edge_cache_env.simulator import CacheSimulator

BAR_WIDTH = 40


def render_ansi(sim: CacheSimulator) -> str:
    """A readable frame: GPU memory bar, cached models with their AoC, this slot's demand."""
    cfg = sim.config
    used = sim.used_mb / sim.gpu_mb
    filled = int(round(used * BAR_WIDTH))
    lines = [
        f"slot {sim.t}/{cfg.n_slots}  ops {sim.ops_used}/{cfg.ops_per_slot}",
        f"GPU [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {sim.used_gb:.1f}/{cfg.server.gpu_gb:.0f} GB",
        f"{'model':<18} {'cached':>6} {'mem GB':>7} {'AoC':>6} {'demand':>6}",
    ]
    counts = sim.current_counts()
    for m, spec in enumerate(cfg.models):
        lines.append(f"{spec.name:<18} {'yes' if sim.cached[m] else '-':>6} {spec.mem_gb:>7.1f} "
                     f"{sim.context.aoc[m]:>6.1f} {int(counts[m]):>6d}")
    return "\n".join(lines) + "\n"
