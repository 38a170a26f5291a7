# HSNet's training episodes (its data/*.py with train.py): every image and mask stretched to
# 400x400, no augmentation. Leaf configs set it with
# train_dataloader = dict(dataset=dict(pipeline={{_base_.hsnet_train_pipeline}})).
hsnet_train_pipeline = [
    dict(
        type='ApplyToEpisode',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='BinarizeMask'),
            dict(type='Resize', scale=(400, 400), keep_ratio=False),
        ]),
    dict(type='PackEpisodeInputs'),
]
