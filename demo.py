"""The README's main job: benchmark every agent on EdgePFMCache-v0 and show where the results went.

Runs ``evaluate.py`` on the default scenario (every heuristic and reference, the shipped trained
agents, the lower bound; 20 episodes, seeds 0..19: about a minute and a half on this 2-core
machine) and writes the table, ``results.json``, ``results.csv`` and the plots to ``results/``;
the same as ``python evaluate.py --agents all,<the shipped agents> --episodes 20 --out results``.

Usage: python demo.py [--episodes N] [--out DIR]
"""

from __future__ import annotations

import argparse

from evaluation import cli as evaluate


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", default="20", help="episodes per agent (seeds 0..N-1; default 20)")
    p.add_argument("--out", default="results", help="output folder (default results)")
    args = p.parse_args(argv)  # evaluate.py checks the values themselves, before any work
    from agents.trained import pretrained_specs  # the shipped trained agents join the table

    specs = ",".join(["all", *pretrained_specs("EdgePFMCache-v0")])
    evaluate.main(["--env", "EdgePFMCache-v0", "--agents", specs, "--episodes", args.episodes,
                   "--seed", "0", "--out", args.out])
    print(f"\nTable above; {args.out}/results.json and {args.out}/results.csv hold every number, "
          f"{args.out}/costs.png and {args.out}/timeline_lc.png the plots.")


if __name__ == "__main__":
    main()
