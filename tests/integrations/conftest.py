"""One local Ray for all the Ray tests of a test process (its start-up takes ~15 s)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def local_ray():
    ray = pytest.importorskip("ray")  # the [ray] extra, installed by `make test`
    from integrations.ray_cluster import connect

    started = connect(None, num_cpus=2)
    yield ray
    if started:
        ray.shutdown()
