# `make demo`: train the few-shot baseline on Shapes-5i (fold 0, 1-shot) on CPU, evaluate the
# fixed-seed novel-class episodes, compare with two trivial references, write a summary.
# torch, mmengine, mmseg and mmfss are imported after argument parsing (--help is instant).
import argparse
import os
import os.path as osp
import sys
import time

DEFAULT_CONFIG = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))),
    'configs/baseline/fss-baseline_r18w16-d8_1xb8-1.2k_shapes5i-fold0-1shot.py')


def parse_args():
    parser = argparse.ArgumentParser(description='mmfss demo: train and evaluate on Shapes-5i')
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='config file')
    parser.add_argument('--work-dir', default='work_dirs/demo', help='output folder')
    parser.add_argument('--max-iters', type=int, default=None, help='override training length')
    args = parser.parse_args()
    if args.max_iters is not None and args.max_iters < 1:
        parser.error(f'--max-iters must be >= 1, got {args.max_iters}')
    if not os.path.isfile(args.config):
        parser.error(f'--config {args.config} does not exist')
    return args


def reference_predictions(dataset):
    """Yield (class id, query label, all-foreground prediction, support-mask prediction).

    The support-mask reference resizes each support mask (1 = foreground; 255 counts as
    background) onto the query's original size with nearest neighbour and takes the
    per-pixel majority over the K shots.
    """
    import torch
    import torch.nn.functional as F
    for idx in range(len(dataset)):
        item = dataset[idx]
        sample = item['data_samples']
        label = sample.gt_sem_seg.data[0]
        masks = (sample.support_masks.data == 1).float()  # [K, Hs, Ws]
        resized = F.interpolate(masks[None], size=label.shape, mode='nearest')[0]
        support_pred = (resized.mean(0) > 0.5).long()
        yield sample.metainfo, label, torch.ones_like(label), support_pred


def evaluate_references(dataset):
    from mmfss.evaluation import FewShotIoUMetric
    metrics = {name: FewShotIoUMetric() for name in ('all_foreground', 'support_mask')}
    for metric in metrics.values():
        metric.dataset_meta = dataset.metainfo
    for meta, label, all_fg, support in reference_predictions(dataset):
        for name, pred in (('all_foreground', all_fg), ('support_mask', support)):
            metrics[name].process({}, [dict(pred_sem_seg=dict(data=pred[None]),
                                            gt_sem_seg=dict(data=label[None]), **meta)])
    return {name: m.evaluate(len(dataset)) for name, m in metrics.items()}


def main():
    args = parse_args()
    import torch
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    import mmfss  # noqa: F401
    from mmfss.utils import dump_json, train_then_test
    start = time.time()
    metrics, cfg, timings = train_then_test(args.config, args.work_dir, args.max_iters)
    train_time, test_time = timings['train_time_s'], timings['test_time_s']

    init_default_scope('mmseg')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    references = evaluate_references(dataset)
    wall = time.time() - start

    classes = dataset.metainfo['classes']
    per_class = {classes[c]: metrics[f'IoU.{classes[c]}'] for c in dataset.novel_classes}
    summary = dict(
        config=osp.relpath(args.config),
        fold=dataset.fold,
        shot=dataset.shot,
        episodes=int(metrics['episodes']),
        mIoU=metrics['mIoU'],
        FB_IoU=metrics['FB-IoU'],
        per_class_IoU=per_class,
        references={
            name: dict(mIoU=m['mIoU'], FB_IoU=m['FB-IoU'])
            for name, m in references.items()
        },
        train_iters=cfg.train_cfg.max_iters,
        train_time_s=round(train_time, 1),
        test_time_s=round(test_time, 1),
        wall_time_s=round(wall, 1),
        torch_threads=torch.get_num_threads(),
    )
    os.makedirs(args.work_dir, exist_ok=True)
    out = osp.join(args.work_dir, 'summary.json')
    dump_json(summary, out, indent=2)

    rows = [('mmfss baseline (PFENet prior + PPM head)', summary['mIoU'], summary['FB_IoU'])]
    rows += [(f'reference: {name.replace("_", " ")}', r['mIoU'], r['FB_IoU'])
             for name, r in summary['references'].items()]
    print(f'\nShapes-5i fold {dataset.fold}, {dataset.shot}-shot, {summary["episodes"]} '
          f'novel-class episodes (seed {dataset.seed})')
    print(f'{"":44s} {"mIoU":>7s} {"FB-IoU":>7s}')
    for name, miou, fb in rows:
        print(f'{name:44s} {miou:7.2f} {fb:7.2f}')
    print('per-class IoU: ' + ', '.join(f'{k} {v:.2f}' for k, v in per_class.items()))
    print(f'wall time {wall:.0f} s (train {train_time:.0f} s); summary: {out}')
    beaten = all(summary['mIoU'] > r['mIoU'] and summary['FB_IoU'] > r['FB_IoU']
                 for r in summary['references'].values())
    if not beaten:
        print('FAILED: the trained model does not beat both trivial references', file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
