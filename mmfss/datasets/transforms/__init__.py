from .binarize_mask import BinarizeMask
from .episode_wrapper import ApplyToEpisode
from .formatting import PackEpisodeInputs

__all__ = ['ApplyToEpisode', 'BinarizeMask', 'PackEpisodeInputs']
