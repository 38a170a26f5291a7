from .checkpoint import (from_plain, is_trusted_checkpoint, load_from_local, to_plain,
                         trust_checkpoint)
from .dist_utils import setup_cpu_dist, teardown_dist

__all__ = [
    'trust_checkpoint', 'is_trusted_checkpoint', 'load_from_local', 'to_plain', 'from_plain',
    'setup_cpu_dist', 'teardown_dist'
]
