"""An N-way evaluation run end to end: dataset -> model -> metric (mmengine Runner)."""
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.visualization import Visualizer


def test_two_way_test_run(trained_shapes_model, tmp_path):
    config, checkpoint = trained_shapes_model
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path)
    cfg.load_from = checkpoint
    cfg.test_dataloader.dataset.ways = 2
    cfg.test_dataloader.dataset.num_episodes = 12
    cfg.test_evaluator = dict(type='FewShotIoUMetric', output_dir=str(tmp_path / 'preds'))
    Visualizer._instance_dict.clear()
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    dataset = runner.test_dataloader.dataset
    classes = dataset.metainfo['classes']
    evaluated = {c for _, _, ids in dataset.episodes for c in ids}
    assert metrics['episodes'] == 12
    assert {k for k in metrics if k.startswith('IoU.')} == {f'IoU.{classes[c]}'
                                                         for c in evaluated}
    written = sorted(p.name for p in (tmp_path / 'preds').glob('*.png'))
    assert len(written) == 12
    query, _, ids = dataset.episodes[0]
    assert written[0] == f'000000_{query}_c{ids[0]}-{ids[1]}.png'
