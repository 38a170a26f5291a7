"""CLIP weights from a local file: OpenAI's archive format and open_clip state dicts."""
import pytest
import torch
import torch.nn as nn
from mmseg.registry import MODELS

from mmfss.models.utils.clip_weights import build_clip, is_openai_archive, load_clip_state_dict
from tests.tiny_clip import TINY_CLIP, tiny_clip_neck


def _holder(state):
    """A scripted module holding ``state`` under its keys: the layout of OpenAI's released
    archives (a TorchScript CLIP whose state dict open_clip's architecture reads), plus
    the ``input_resolution`` buffer those archives carry."""
    root = nn.Module()
    for key, value in state.items():
        module = root
        for part in key.split('.')[:-1]:
            if not isinstance(getattr(module, part, None), nn.Module):
                module.add_module(part, nn.Module())
            module = getattr(module, part)
        module.register_buffer(key.split('.')[-1], value.clone())
    root.register_buffer('input_resolution', torch.tensor(64))
    return torch.jit.script(root)


@pytest.fixture(scope='module')
def tiny_files(tmp_path_factory):
    import open_clip
    folder = tmp_path_factory.mktemp('clip')
    torch.manual_seed(0)
    model = open_clip.create_model('ViT-B-16', pretrained=None, **TINY_CLIP['ViT-B-16'])
    state = model.state_dict()
    files = dict(openai=folder / 'ViT-B-16.pt', open_clip=folder / 'open_clip_model.bin',
                 wrapped=folder / 'wrapped.pth')
    _holder(state).save(str(files['openai']))
    torch.save(state, files['open_clip'])
    torch.save(dict(state_dict={f'module.{k}': v for k, v in state.items()}), files['wrapped'])
    return state, {k: str(v) for k, v in files.items()}


def test_every_file_format_loads_the_same_weights(tiny_files):
    state, files = tiny_files
    assert is_openai_archive(files['openai']) and not is_openai_archive(files['open_clip'])
    for kind, path in files.items():
        loaded = load_clip_state_dict(path)
        assert set(loaded) == set(state), kind
        assert all(torch.equal(loaded[k], state[k]) for k in state), kind
        model = build_clip('ViT-B-16', path, dict(TINY_CLIP['ViT-B-16']))
        assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items()), kind


def test_neck_from_a_local_file(tiny_files):
    state, files = tiny_files
    neck = MODELS.build(tiny_clip_neck(pretrained=files['openai']))
    assert all(torch.equal(v, state[k]) for k, v in neck.clip.state_dict().items())
    # OpenAI's archive: QuickGELU, as the 'openai' tag; an open_clip state dict: as set
    assert neck.clip.visual.transformer.resblocks[0].mlp.gelu.__class__.__name__ == 'QuickGELU'
    plain = MODELS.build(tiny_clip_neck(pretrained=files['open_clip']))
    assert plain.clip.visual.transformer.resblocks[0].mlp.gelu.__class__.__name__ == 'GELU'
    quick = MODELS.build(tiny_clip_neck(pretrained=files['open_clip'], quick_gelu=True))
    assert quick.clip.visual.transformer.resblocks[0].mlp.gelu.__class__.__name__ == 'QuickGELU'


def test_errors_say_what_to_download_and_which_key(tmp_path, tiny_files, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r'CLIP checkpoint pretrain/ViT-B-16.pt \(.*'
                                                r'clip_neck.pretrained.*\) does not exist: '
                                                r'download https://openaipublic'):
        MODELS.build(tiny_clip_neck(pretrained='pretrain/ViT-B-16.pt'))
    # no network, no cache: the 'openai' tag cannot be downloaded
    import open_clip.factory

    def offline(*args, **kwargs):
        raise RuntimeError('Failed to download: network unreachable')

    monkeypatch.setattr(open_clip.factory, 'download_pretrained', offline)
    with pytest.raises(FileNotFoundError, match=r"CLIP weights 'openai' of ViT-B-16 cannot be "
                                                r'loaded .*download https://openaipublic.*'
                                                r'clip_neck.pretrained'):
        build_clip('ViT-B-16', 'openai', dict(TINY_CLIP['ViT-B-16']),
                   config_key='clip_neck.pretrained')
    other = tmp_path / 'rn50.pth'
    import open_clip
    torch.save(open_clip.create_model('RN50', pretrained=None, **TINY_CLIP['RN50']).state_dict(),
               other)
    with pytest.raises(ValueError, match=r'does not fit open_clip ViT-B-16: missing'):
        build_clip('ViT-B-16', str(other), dict(TINY_CLIP['ViT-B-16']))
    text = tmp_path / 'notes.pt'
    text.write_text('not a checkpoint')
    with pytest.raises(ValueError, match='neither an OpenAI archive nor a state dict'):
        load_clip_state_dict(str(text))
