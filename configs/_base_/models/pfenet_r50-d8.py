# PFENet (Tian et al., TPAMI 2020; dvlab-research/PFENet model/PFENet.py): the baseline's
# frozen deep-base ResNet-50 and training-free prior (layer4 of the masked support layer3),
# then the feature enrichment module over layer3 + layer2 (FeatureEnrichmentHead: separate
# query/support reductions, scales 60/30/15/8 with the inter-scale path, inner classifiers
# and their auxiliary loss, no batch norm), every resize align_corners=True.
_base_ = ['./fss-baseline_r50-d8.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='FeatureEnrichmentHead',
        in_channels=[1024, 512],
        in_index=[2, 1],
        channels=256,
        scales=(60, 30, 15, 8),
        prior_key='prior',
        aux_weight=1.0,
        dropout_ratio=0.1,
        num_classes=2,
        align_corners=True,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, avg_non_ignore=True)))
