from .base_episodic_dataset import BaseEpisodicDataset
from .shapes5i import Shapes5iDataset, default_shapes5i_root
from .shapes5i_generator import SHAPES5I_CLASSES, generate_shapes5i
from .transforms import *  # noqa: F401,F403

__all__ = [
    'BaseEpisodicDataset', 'Shapes5iDataset', 'default_shapes5i_root', 'SHAPES5I_CLASSES',
    'generate_shapes5i'
]
