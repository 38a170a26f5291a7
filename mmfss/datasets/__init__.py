from .base_episodic_dataset import BaseEpisodicDataset, parse_pair_list
from .pascal5i import PASCAL5iDataset
from .shapes5i import Shapes5iDataset, default_shapes5i_root
from .shapes5i_generator import SHAPES5I_CLASSES, generate_shapes5i
from .transforms import ApplyToEpisode, BinarizeMask, PackEpisodeInputs

__all__ = [
    'BaseEpisodicDataset', 'parse_pair_list', 'PASCAL5iDataset', 'Shapes5iDataset', 'default_shapes5i_root', 'SHAPES5I_CLASSES',
    'generate_shapes5i', 'ApplyToEpisode', 'BinarizeMask', 'PackEpisodeInputs'
]
