from .metrics import FewShotIoUMetric, episode_areas, way_areas

__all__ = ['FewShotIoUMetric', 'episode_areas', 'way_areas']
