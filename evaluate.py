"""Benchmark agents on paired seeds: ``python evaluate.py --help`` (the work is in :mod:`evaluation.cli`)."""

from evaluation.cli import main

if __name__ == "__main__":
    main()
