"""Make ``examples/trace_example.csv``: a generic CSV trace (4 hours, ~0.25 requests/s).

The requests come from the project's synthetic workload (drifting Zipf popularity, Zipf
tasks, log-normal tokens) on the default catalog, with arrival times spread inside their
10-second slots. It shows the format; it is not real traffic.

    python examples/make_example_trace.py            # rewrites examples/trace_example.csv
    python examples/make_example_trace.py --out my_trace.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from edge_cache_env.config import make_config
from edge_cache_env.traces import write_csv_trace
from edge_cache_env.workload import SyntheticWorkload

OUT = Path(__file__).with_name("trace_example.csv")
HOURS = 4
SEED = 2024


def main(out: Path = OUT) -> None:
    cfg = make_config("default", n_slots=HOURS * 360, requests_per_slot=2.5)
    rng = np.random.default_rng(SEED)
    requests = SyntheticWorkload(cfg).sample_episode(rng)
    write_csv_trace(out, requests, [m.name for m in cfg.models], cfg.slot_s, jitter=rng)
    print(f"wrote {out} ({requests.n_requests} requests over {HOURS} h)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"the CSV to write (default {OUT.name})")
    main(parser.parse_args().out)
