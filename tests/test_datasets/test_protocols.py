"""The reference protocols: samplers against statements of the references' code, files."""
import json
import os.path as osp
import random

import numpy as np
import pytest
import torch
from PIL import Image

from mmfss.datasets import PASCAL5iDataset
from mmfss.datasets.pascal5i import hsnet_pascal_pairs
from mmfss.datasets.protocols import (get_protocol, hsnet_class_uniform_episodes,
                                      hsnet_pair_episodes, pfenet_resized_hw,
                                      read_episodes_file, write_episodes_file)
from tests.data_trees import voc_protocol_tree


# ------------------------------------------------------------------ statements of the references
class PFENetSemDataStatement(torch.utils.data.Dataset):
    """PFENet util/dataset.py ``SemData`` (test split), stated over file paths as PFENet does:
    ``__getitem__`` draws with the process's Python ``random`` (a DataLoader worker's when
    the loader has workers). Items are JSON ``[query, [supports], class]``."""

    def __init__(self, root, lines, novel, shot):
        self.shot, self.novel = shot, novel
        self.image_label_list, self.sub_class_file_list = [], {c: [] for c in novel}
        for line in lines:
            item = tuple(osp.join(root, p) for p in line.split(' '))
            label = np.array(Image.open(item[1]))
            present = [c for c in np.unique(label).tolist() if c not in (0, 255)]
            large = [c for c in present if c in novel and int((label == c).sum()) >= 2 * 32 * 32]
            if large:
                self.image_label_list.append(item)
                for c in large:
                    self.sub_class_file_list[c].append(item)

    def __len__(self):
        return len(self.image_label_list)

    def __getitem__(self, index):
        image_path, label_path = self.image_label_list[index]
        label = np.array(Image.open(label_path))
        label_class = [c for c in np.unique(label).tolist()
                       if c not in (0, 255) and c in self.novel]
        class_chosen = label_class[random.randint(1, len(label_class)) - 1]
        files = self.sub_class_file_list[class_chosen]
        support_paths, support_idx_list = [], []
        for _ in range(self.shot):
            support_idx = random.randint(1, len(files)) - 1
            s_img, s_lab = image_path, label_path
            while (s_img == image_path and s_lab == label_path) or \
                    support_idx in support_idx_list:
                support_idx = random.randint(1, len(files)) - 1
                s_img, s_lab = files[support_idx]
            support_idx_list.append(support_idx)
            support_paths.append(s_img)
        stem = lambda p: osp.splitext(osp.basename(p))[0]  # noqa: E731
        return json.dumps([stem(image_path), [stem(p) for p in support_paths], class_chosen])


def pfenet_test_episodes(root, lines, novel, shot, num, seed, passes=20, workers=0):
    """PFENet test.py's loop (BAM's: ``passes`` as many as needed) over its DataLoader: seeds
    set once before the passes (``fix_random_seed_val``), ``batch_size_val: 1``, no
    ``worker_init_fn``; every pass is a new ``enumerate(val_loader)``."""
    dataset = PFENetSemDataStatement(root, lines, novel, shot)
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, shuffle=False,
                                         num_workers=workers)
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    episodes = []
    for _ in range(passes):
        if len(episodes) == num:
            break
        for (item, ) in loader:
            if len(episodes) == num:
                break
            query, supports, class_id = json.loads(item)
            episodes.append((query, supports, class_id))
    return episodes


def hsnet_pascal_test_episodes(split_file, shot, num=1000):
    """HSNet data/pascal.py (build_img_metadata*, sample_episode) after fix_randseed(0)."""
    with open(split_file) as f:
        metadata = [[d.split('__')[0], int(d.split('__')[1]) - 1] for d in f.read().split('\n')[:-1]]
    classwise = {c: [] for c in range(20)}
    for name, c in metadata:
        classwise[c] += [name]
    np.random.seed(0)
    episodes = []
    for idx in range(num):
        query, c = metadata[idx % len(metadata)]
        supports = []
        while True:
            s = np.random.choice(classwise[c], 1, replace=False)[0]
            if query != s:
                supports.append(s)
            if len(supports) == shot:
                break
        episodes.append((query, [str(s) for s in supports], c + 1))
    return episodes


# ------------------------------------------------------------------ protocol table
def test_protocol_constants_are_the_references():
    # BAM test.py: setup_seed(123); seed_array = np.random.randint(0, 1000, 5)
    assert list(get_protocol('bam').seeds) == list(np.random.RandomState(123).randint(0, 1000, 5))
    assert get_protocol('pfenet').seeds == (321, )
    assert get_protocol('hsnet').seeds == (0, )
    # PFENet's test_num + 1 (its loop's break condition), within 20 passes
    assert get_protocol('pfenet').num_episodes['pascal'] == 5001
    assert get_protocol('pfenet').num_episodes['coco'] == 20001
    assert get_protocol('pfenet').max_passes == 20 and get_protocol('bam').max_passes is None
    assert get_protocol('bam').num_episodes['coco'] == 1000
    # the test loaders' workers of the published configs (PFENet config/pascal, config/coco;
    # BAM config/pascal, config/coco)
    assert get_protocol('pfenet').workers == dict(pascal=8, coco=16, fss=0)
    assert get_protocol('bam').workers == dict(pascal=8, coco=8, fss=0)
    with pytest.raises(ValueError, match="protocol must be one of .*'hsnet'.*got 'pfnet'"):
        get_protocol('pfnet')


# ------------------------------------------------------------------ HSNet
@pytest.mark.parametrize('fold', [0, 1, 2, 3])
@pytest.mark.parametrize('shot', [1, 5])
def test_hsnet_pascal_episodes_are_hsnets(fold, shot):
    """From the shipped split files alone: HSNet's 1000 episodes, exactly."""
    from mmfss.datasets.pascal5i import LISTS
    split_file = osp.join(LISTS, 'hsnet', 'pascal', 'val', f'fold{fold}.txt')
    expected = hsnet_pascal_test_episodes(split_file, shot)
    got = hsnet_pair_episodes(hsnet_pascal_pairs('val', fold), shot, 1000, seed=0)
    assert got == expected
    assert {c for _, _, c in got} == set(range(5 * fold + 1, 5 * fold + 6))


def test_hsnet_pascal_lists_shipped():
    sizes = {f: len(hsnet_pascal_pairs('val', f)) for f in range(4)}
    assert sizes == {0: 346, 1: 451, 2: 725, 3: 346}
    train = hsnet_pascal_pairs('train', 0)  # the trn files of folds 1, 2, 3
    assert len(train) == 3425 + 5883 + 2086
    assert {c for _, c in train} == set(range(6, 21))


def test_hsnet_class_uniform_is_hsnets_coco_draw():
    pools = {1: ['a', 'b', 'c'], 5: ['d', 'e'], 9: ['f', 'g', 'h', 'i']}
    got = hsnet_class_uniform_episodes(pools, 2, 50, seed=0)
    # HSNet data/coco.py load_frame, after np.random.seed(0), class_ids ascending (0-based)
    np.random.seed(0)
    for query, supports, c in got:
        class_sample = np.random.choice([0, 4, 8], 1, replace=False)[0]
        q = np.random.choice(pools[class_sample + 1], 1, replace=False)[0]
        sup = []
        while True:
            s = np.random.choice(pools[class_sample + 1], 1, replace=False)[0]
            if s != q:
                sup.append(s)
            if len(sup) == 2:
                break
        assert (query, supports, c) == (q, list(sup), class_sample + 1)


# ------------------------------------------------------------------ PFENet / BAM
@pytest.mark.parametrize('shot,fold,num,workers', [(1, 0, 120, 0), (5, 1, 60, 0),
                                                   (1, 1, 75, 3), (1, 0, 120, 8)])
def test_pfenet_episodes_on_generated_tree(tmp_path, shot, fold, num, workers):
    """mmfss's episodes = PFENet's test loop run with torch's DataLoader, its workers
    included (the published runs: 8 for PASCAL)."""
    lines = voc_protocol_tree(tmp_path, n=80)
    novel = list(range(5 * fold + 1, 5 * fold + 6))
    expected = pfenet_test_episodes(str(tmp_path), lines, novel, shot, num, seed=321,
                                    workers=workers)
    ds = PASCAL5iDataset(data_root=str(tmp_path), ann_file='list.txt', split='val', fold=fold,
                         shot=shot, protocol='pfenet', num_episodes=num, stats_cache_dir='',
                         episode_workers=workers)
    assert ds.seed == 321
    assert ds.episodes == expected
    # the query class is drawn among all novel classes present, not only the eligible ones
    small = [(q, c) for q, _, c in ds.episodes if q not in ds.class_pools.get(c, [])]
    assert small, 'the tree should produce episodes whose query class is under 2*32*32'


def test_pfenet_default_is_the_published_runs_stream(tmp_path):
    """Default: PFENet's config's 8 workers; PFENet stops after 20 passes over the list, so
    the default 5001 episodes are capped; the streams differ from one worker's."""
    lines = voc_protocol_tree(tmp_path, n=80)
    full = PASCAL5iDataset(data_root=str(tmp_path), ann_file='list.txt', split='val',
                           protocol='pfenet', stats_cache_dir='')
    assert full.episode_workers == 8
    queries = len({q for q, _, _ in full.episodes})
    assert len(full) == min(5001, 20 * queries) < 5001
    assert full.episodes == pfenet_test_episodes(str(tmp_path), lines, [1, 2, 3, 4, 5], 1,
                                                 5001, 321, workers=8)
    single = PASCAL5iDataset(data_root=str(tmp_path), ann_file='list.txt', split='val',
                             protocol='pfenet', stats_cache_dir='', episode_workers=0)
    assert single.episodes != full.episodes
    assert [q for q, _, _ in single.episodes] == [q for q, _, _ in full.episodes]


def test_bam_is_pfenet_sampler_with_bam_seeds(tmp_path):
    lines = voc_protocol_tree(tmp_path, n=80)
    ds = PASCAL5iDataset(data_root=str(tmp_path), ann_file='list.txt', split='val', fold=0,
                         protocol='bam', stats_cache_dir='')
    assert ds.seed == 510 and len(ds.episodes) == 1000 and ds.episode_workers == 8
    # BAM's loop makes as many passes as its 1000 episodes need, in 8 workers
    assert ds.episodes == pfenet_test_episodes(str(tmp_path), lines, [1, 2, 3, 4, 5], 1, 1000,
                                               seed=510, passes=1000, workers=8)
    ds0 = PASCAL5iDataset(data_root=str(tmp_path), ann_file='list.txt', split='val', fold=0,
                          protocol='bam', stats_cache_dir='', episode_workers=0, seed=365)
    assert ds0.episodes == pfenet_test_episodes(str(tmp_path), lines, [1, 2, 3, 4, 5], 1,
                                                1000, seed=365, passes=1000)


def test_pfenet_default_counts_and_errors(tmp_path):
    voc_protocol_tree(tmp_path, n=80)
    ds = PASCAL5iDataset(data_root=str(tmp_path), ann_file='list.txt', split='val',
                         stats_cache_dir='')
    assert ds.protocol == 'pfenet' and len(ds) == min(5001, 20 * len({q for q, _, _ in ds.episodes}))
    with pytest.raises(ValueError, match='one-way'):
        PASCAL5iDataset(data_root=str(tmp_path), ann_file='list.txt', split='val', ways=2,
                        protocol='bam', stats_cache_dir='')
    # PFENet's loop never ends when a pool is too small; mmfss names the class
    with pytest.raises(ValueError, match=r'class \d+ has \d pool images: too few for 5 supports'):
        PASCAL5iDataset(data_root=str(tmp_path), ann_file='list.txt', split='val', shot=5,
                        protocol='pfenet', num_episodes=300, stats_cache_dir='')
    with pytest.raises(ValueError, match='no query image holds a novel class'):
        PASCAL5iDataset(data_root=str(tmp_path), ann_file='list.txt', split='val', fold=3,
                        protocol='pfenet', stats_cache_dir='')


def test_pfenet_resized_hw():
    assert pfenet_resized_hw(375, 500, 473) == (352, 472)  # 354.75 -> 354 -> 352; 473 -> 472
    assert pfenet_resized_hw(500, 375, 473) == (472, 352)
    assert pfenet_resized_hw(480, 640, 641) == (480, 640)
    assert pfenet_resized_hw(100, 100, 400) == (400, 400)


# ------------------------------------------------------------------ episode files
def test_episodes_file_round_trip(tmp_path):
    voc_protocol_tree(tmp_path / 'voc', n=80)
    root = str(tmp_path / 'voc')
    ds = PASCAL5iDataset(data_root=root, ann_file='list.txt', split='val', shot=2,
                         num_episodes=40, stats_cache_dir='')
    path = str(tmp_path / 'episodes.tsv')
    write_episodes_file(path, ds.episodes)
    assert read_episodes_file(path) == ds.episodes
    again = PASCAL5iDataset(data_root=root, ann_file='list.txt', split='val', shot=2,
                            episodes_file=path, stats_cache_dir='')
    assert again.episodes == ds.episodes
    assert again.get_data_info(3)['supports'][1]['img_path'].endswith(
        ds.episodes[3][1][1] + '.jpg')

    bad = tmp_path / 'bad.tsv'
    bad.write_text('2009_000000\tnope\t1\n')
    with pytest.raises(ValueError, match=r"bad.tsv: episode 1: image 'nope' is not a sample"):
        PASCAL5iDataset(data_root=root, ann_file='list.txt', split='val', shot=1,
                        episodes_file=str(bad), stats_cache_dir='')
    bad.write_text(f'{ds.episodes[0][0]}\t{ds.episodes[0][1][0]}\t7\n')
    with pytest.raises(ValueError, match=r'class 7 is not evaluated'):
        PASCAL5iDataset(data_root=root, ann_file='list.txt', split='val', shot=1,
                        episodes_file=str(bad), stats_cache_dir='')
    bad.write_text('a\tb\tx\n')
    with pytest.raises(ValueError, match=r'bad.tsv:1: class id .x. is not an integer'):
        read_episodes_file(str(bad))


def test_hsnet_training_pairs(tmp_path, monkeypatch):
    """protocol='hsnet' on the train split: item i is HSNet's (image, class) pair i, its
    supports from the images paired with that class, distinct and not the query."""
    import mmfss.datasets.pascal5i as pascal5i
    voc_protocol_tree(tmp_path, n=80)
    names = [f'2009_{i:06d}' for i in range(80)]
    pairs = [(n, 6 + i % 3) for i, n in enumerate(names[:30])]
    seen = []
    monkeypatch.setattr(pascal5i, 'hsnet_pascal_pairs',
                        lambda split, fold: seen.append((split, fold)) or pairs)
    ds = PASCAL5iDataset(data_root=str(tmp_path), split='train', fold=0, shot=2,
                         protocol='hsnet', stats_cache_dir='')
    assert seen == [('train', 0)] and ds.train_pairs == pairs and len(ds) == 30
    np.random.seed(0)
    for i in (0, 7, 29):
        query, supports, c = ds.get_episode(i)
        assert (query, c) == pairs[i]
        assert len(set(supports)) == 2 and query not in supports
        assert all((s, c) in pairs for s in supports)
    with pytest.raises(ValueError, match="protocol='hsnet' reads HSNet's split files"):
        PASCAL5iDataset(data_root=str(tmp_path), ann_file='list.txt', split='train',
                        protocol='hsnet', stats_cache_dir='')
