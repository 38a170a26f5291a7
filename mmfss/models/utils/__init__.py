from .episode_features import EpisodeFeatures
from .masked_average_pooling import foreground_weights, masked_average_pooling

__all__ = ['EpisodeFeatures', 'foreground_weights', 'masked_average_pooling']
