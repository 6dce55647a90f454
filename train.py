"""Train an agent and leave a complete run folder: ``python train.py --help`` (the work is in :mod:`training.cli`)."""

from training.cli import main

if __name__ == "__main__":
    main()
