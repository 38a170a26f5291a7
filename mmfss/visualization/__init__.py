from .episode_panel import episode_panel, overlay_mask, way_palette

__all__ = ['episode_panel', 'overlay_mask', 'way_palette']
