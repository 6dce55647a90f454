"""Rendering of the cache state: text (``"ansi"``) and an RGB frame (``"rgb_array"``) drawn with
numpy alone. ``gym.make(..., render_mode="human")`` shows that frame in a window through
Gymnasium's ``HumanRendering`` wrapper (needs ``pygame``).

The frame shows what the text view shows, as bars (no text, so no font dependency):

* top strip: episode progress (white) and operations used this slot (yellow);
* GPU strip: the memory of each cached model in its colour, free memory dark grey;
* one row per model: a colour chip (bright when cached, dim when not), its memory share of the
  GPU, its AoC as a share of its context window (green), and this slot's demand (scaled to the
  largest demand of the slot) in blue where it is served at the edge (the model is cached) or
  orange where it goes to the cloud.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_cache_env.simulator import CacheSimulator

BAR_WIDTH = 40

# Frame geometry (pixels). Width and height are multiples of 16 so video encoders take the
# frames without resizing them.
WIDTH = 480
PAD = 8
ROW_H = 16
STRIP_H = 16
CHIP_W = 16
COLUMNS = (("mem", 120), ("aoc", 140), ("demand", 140))  # name, width of each bar column
GAP = 8

BACKGROUND = (24, 24, 28)
TRACK = (56, 56, 64)
WHITE = (230, 230, 230)
YELLOW = (240, 200, 60)
AOC_GREEN = (80, 200, 120)
EDGE_BLUE = (70, 140, 240)
CLOUD_ORANGE = (240, 140, 50)


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


def model_colours(n: int) -> np.ndarray:
    """``n`` distinct, bright RGB colours (evenly spaced hues), uint8 ``[n, 3]``."""
    hue = np.arange(n) / max(n, 1)
    k = (np.array([5.0, 3.0, 1.0])[None, :] + hue[:, None] * 6.0) % 6.0  # HSV -> RGB, s=0.6 v=0.95
    rgb = 0.95 - 0.95 * 0.6 * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return (rgb * 255).astype(np.uint8)


def frame_shape(n_models: int) -> tuple[int, int, int]:
    """``(height, width, 3)`` of the frame for a catalog of ``n_models`` models."""
    height = PAD + STRIP_H + PAD + STRIP_H + PAD + n_models * ROW_H + PAD
    return (-(-height // 16) * 16, WIDTH, 3)


def _bar(img: np.ndarray, y: int, x: int, width: int, share: float, colour: Any, h: int) -> None:
    """A track of ``width`` pixels at ``(y, x)`` filled to ``share`` (clipped to [0, 1])."""
    img[y:y + h, x:x + width] = TRACK
    fill = int(round(float(np.clip(share, 0.0, 1.0)) * width))
    if fill:
        img[y:y + h, x:x + fill] = colour


def render_rgb(sim: CacheSimulator) -> np.ndarray:
    """The frame as a uint8 ``[H, W, 3]`` array (see the module docstring for what is drawn)."""
    cfg = sim.config
    n = cfg.n_models
    img = np.empty(frame_shape(n), dtype=np.uint8)
    img[:] = BACKGROUND
    colours = model_colours(n)
    inner = WIDTH - 2 * PAD
    bar_h = ROW_H - 4

    y = PAD  # progress through the episode, and operations used in this slot
    half = (inner - GAP) // 2
    _bar(img, y, PAD, half, sim.t / cfg.n_slots, WHITE, STRIP_H)
    _bar(img, y, PAD + half + GAP, half, sim.ops_used / max(cfg.ops_per_slot, 1), YELLOW, STRIP_H)

    y += STRIP_H + PAD  # GPU memory: each cached model's share in its colour
    img[y:y + STRIP_H, PAD:PAD + inner] = TRACK
    x = float(PAD)
    for m in np.flatnonzero(sim.cached):
        w = float(sim.mem_mb[m]) / float(sim.gpu_mb) * inner
        img[y:y + STRIP_H, int(round(x)):int(round(x + w))] = colours[m]
        x += w
        img[y:y + STRIP_H, min(int(round(x)), PAD + inner - 1)] = BACKGROUND  # separator

    y += STRIP_H + PAD  # one row per model
    counts = np.asarray(sim.current_counts(), dtype=np.float64)
    peak = max(float(counts.max()), 1.0)
    aoc_share = sim.context.aoc / np.maximum(sim.context.window, 1e-9)
    for m in range(n):
        top = y + m * ROW_H + 2
        chip = colours[m] if sim.cached[m] else (colours[m] // 4)
        img[top:top + bar_h, PAD:PAD + CHIP_W] = chip
        x0 = PAD + CHIP_W + GAP
        values = {"mem": (float(sim.mem_mb[m]) / float(sim.gpu_mb), colours[m]),
                  "aoc": (float(aoc_share[m]), AOC_GREEN),
                  "demand": (counts[m] / peak, EDGE_BLUE if sim.cached[m] else CLOUD_ORANGE)}
        for name, width in COLUMNS:
            share, colour = values[name]
            _bar(img, top, x0, width, share, colour, bar_h)
            x0 += width + GAP
    return img
