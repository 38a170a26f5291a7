# COCO-20i (COCO 2014, label maps written by tools/dataset_converters/coco20i.py; see README,
# "Prepare the datasets"). Same episode pipelines as PASCAL-5i (473x473 crops, as PFENet/BAM).
# Fold convention: split_style='interleaved' (PFENet use_split_coco, HSNet) or 'contiguous'.
_base_ = ['./pascal5i.py']
dataset_type = 'COCO20iDataset'
data_root = 'data/coco'
split_style = 'interleaved'

train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split_style=split_style))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split_style=split_style,
                 num_episodes=1000))
test_dataloader = val_dataloader
