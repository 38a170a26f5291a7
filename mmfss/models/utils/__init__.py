from .episode_features import EpisodeFeatures
from .masked_average_pooling import foreground_weights, masked_average_pooling
from .resize_concat import resize_concat
from .shared_forward import shared_forward

__all__ = [
    'EpisodeFeatures', 'foreground_weights', 'masked_average_pooling', 'shared_forward',
    'resize_concat'
]
