# COCO-20i under HSNet's protocol (HSNet data/coco.py): 1000 class-uniform episodes drawn after
# np.random.seed(0) from HSNet's split of the fold, 400x400 stretched inputs scored at 400x400.
# HSNet's split is a pickle in its repository: convert it once per fold with
#   python tools/dataset_converters/hsnet_coco_splits.py HSNET/data/splits/coco/val/fold0.pkl \
#       data/coco/hsnet_val_fold0.txt
_base_ = ['./coco20i.py']
val_dataloader = dict(
    dataset=dict(protocol='hsnet', hsnet_split_file='data/coco/hsnet_val_fold0.txt'))
test_dataloader = val_dataloader
