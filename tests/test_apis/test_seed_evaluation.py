"""mmfss.apis.seed_evaluation: the seeds of tools/test.py --seeds."""
from types import SimpleNamespace

import pytest

from mmfss.apis import episode_seeds


def test_seeds_follow_the_protocol():
    """BAM's five seeds under protocol='bam', else s, s+1, ..."""
    bam = SimpleNamespace(protocol='bam', seed=510)
    assert episode_seeds(bam, -1) == [510, 365, 382, 322, 988]  # a bare --seeds
    assert episode_seeds(bam, 2) == [510, 365]
    with pytest.raises(ValueError, match=r"--seeds 6: protocol 'bam' has 5 seeds"):
        episode_seeds(bam, 6)
    assert episode_seeds(SimpleNamespace(protocol='pfenet', seed=321), 3) == [321, 322, 323]
    assert episode_seeds(SimpleNamespace(protocol=None, seed=4), 2) == [4, 5]
    with pytest.raises(ValueError, match='a bare --seeds needs a protocol with a seed list'):
        episode_seeds(SimpleNamespace(protocol=None, seed=4), -1)
