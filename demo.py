"""The README's main job: benchmark every agent on EdgePFMCache-v0 and show where the results went.

Runs ``evaluate.py`` on the default scenario (all heuristics and references, the lower bound,
20 episodes, seeds 0..19: under a minute on one core) and writes the table, ``results.json``,
``results.csv`` and the plots to ``results/``; the same as
``python evaluate.py --agents all --episodes 20 --out results/``.
"""

from __future__ import annotations

import sys

from evaluation import cli as evaluate


def main() -> None:
    episodes = sys.argv[1] if len(sys.argv) > 1 else "20"
    from agents.trained import pretrained_specs  # the shipped trained agents join the table

    specs = ",".join(["all", *pretrained_specs("EdgePFMCache-v0")])
    evaluate.main(["--env", "EdgePFMCache-v0", "--agents", specs, "--episodes", episodes,
                   "--seed", "0", "--out", "results"])
    print("\nTable above; results/results.json and results/results.csv hold every number, "
          "results/costs.png and results/timeline_lc.png the plots.")


if __name__ == "__main__":
    main()
