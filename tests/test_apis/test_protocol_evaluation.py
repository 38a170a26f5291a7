"""mmfss.apis.protocol_evaluation: a config's test set rewritten per protocol."""
import pytest
from mmengine.config import Config

from mmfss.apis import protocol_test_dataloader
from mmfss.datasets import Shapes5iDataset

from ..conftest import REPO

SHAPES = f'{REPO}/configs/baseline/fss-baseline_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py'
PASCAL = f'{REPO}/configs/baseline/fss-baseline_r50-d8_4xb4-20k_pascal5i-fold0-1shot.py'


def _episode_step(loader):
    (step, ) = [s for s in loader['dataset']['pipeline'] if s['type'] == 'ApplyToEpisode']
    return step


def _types(transforms):
    return [t['type'] for t in transforms]


@pytest.mark.parametrize('protocol', ['pfenet', 'bam', 'hsnet'])
def test_reference_protocol_replaces_the_resize(protocol):
    loader = Config.fromfile(SHAPES).test_dataloader.to_dict()
    out = protocol_test_dataloader(loader, protocol)
    assert out['dataset']['protocol'] == protocol
    assert out['dataset']['num_episodes'] == 'default'  # the protocol's count
    step = _episode_step(out)
    # the label is loaded and binarised before the protocol's geometry, for both roles
    assert _types(step['transforms']) == ['LoadImageFromFile', 'LoadAnnotations',
                                          'BinarizeMask', 'ProtocolTestResize']
    assert _types(step['support_transforms']) == _types(step['transforms'])
    assert step['support_transforms'][-1]['role'] == 'support'
    assert step['transforms'][-1]['role'] == 'query'
    # the config is not modified
    assert 'Resize' in _types(_episode_step(loader)['transforms'])
    assert 'protocol' not in loader['dataset']


def test_protocol_pipeline_kept_and_mmfss_pins_the_config_geometry():
    loader = Config.fromfile(PASCAL).test_dataloader.to_dict()
    hsnet = protocol_test_dataloader(loader, 'hsnet', num_episodes=7)
    assert _episode_step(hsnet) == _episode_step(loader)  # it already follows the dataset
    assert hsnet['dataset']['num_episodes'] == 7
    own = protocol_test_dataloader(loader, 'mmfss')
    assert own['dataset']['protocol'] is None and own['dataset']['num_episodes'] == 1000
    resize = _episode_step(own)['transforms'][-1]
    # PASCAL-5i configs evaluate under PFENet's geometry: mmfss's sampler keeps it
    assert resize == dict(type='ProtocolTestResize', protocol='pfenet', size=473)


def test_shapes_config_under_mmfss_is_the_config():
    loader = Config.fromfile(SHAPES).test_dataloader.to_dict()
    own = protocol_test_dataloader(loader, 'mmfss')
    assert own['dataset']['pipeline'] == loader['dataset']['pipeline']
    assert own['dataset']['num_episodes'] == 1000 and own['dataset']['seed'] == 0


def test_bad_protocol_and_dataset():
    loader = Config.fromfile(SHAPES).test_dataloader.to_dict()
    with pytest.raises(ValueError, match="protocol must be one of .* got 'voc'"):
        protocol_test_dataloader(loader, 'voc')
    loader['dataset']['type'] = 'ADE20KDataset'
    with pytest.raises(ValueError, match="'ADE20KDataset' is not an episodic dataset"):
        protocol_test_dataloader(loader, 'bam')


def test_shapes5i_under_each_protocol(shapes_root):
    """Shapes-5i reads as PASCAL-5i in miniature: each protocol's sampler, seeds and size."""
    from ..conftest import small_shapes_cfg
    kw = small_shapes_cfg(shapes_root)
    kw.pop('type')
    sets = {p: Shapes5iDataset(split='val', fold=0, shot=1, protocol=p, pipeline=[], **kw)
            for p in ('pfenet', 'bam', 'hsnet')}
    assert (sets['pfenet'].seed, sets['bam'].seed, sets['hsnet'].seed) == (321, 510, 0)
    assert (sets['pfenet'].test_size, sets['hsnet'].test_size) == (96, 80)
    # PFENet stops after 20 passes over its queries; BAM and HSNet draw 1000
    assert len(sets['pfenet'].episodes) <= 5001 and len(sets['bam'].episodes) == 1000
    hsnet = sets['hsnet']
    pairs = [(n, c) for c, pool in sorted(hsnet.class_pools.items()) for n in pool]
    for i, (query, supports, class_id) in enumerate(hsnet.episodes[:len(pairs)]):
        assert (query, class_id) == pairs[i]  # HSNet walks its (image, class) list in order
        assert query not in supports and set(supports) <= set(hsnet.class_pools[class_id])
