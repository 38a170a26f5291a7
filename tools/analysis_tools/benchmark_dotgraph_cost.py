"""Forward cost of DOTGraph's graph refinement next to the encoders, on the same episode.

    python tools/analysis_tools/benchmark_dotgraph_cost.py [--crop 473] [--repeats 3]

Times (median of ``--repeats`` runs after one warm-up, eval mode, no_grad) on one 1-shot
episode at ``--crop`` (473: the 60x60 node grid of supplement §5):

* the dilated ResNet-50 backbone on the query and the support (the configs' backbone);
* the CLIP prior of both images (:class:`CLIPPriorNeck` with the configs' settings on a
  random ViT-B/16, the cost is the same): the image at its own size rounded to the patch
  (480x480 for 473), all blocks but the last without autograd, the last block with autograd
  and one backward per prior (foreground and background), the attention-affinity
  refinement; and, for reference, the plain CLIP image-encoder forward at the same size;
* OTGraphNeck at N = 60x60 = 3600 nodes, C = 256, d = 128, S = 3 Sinkhorn iterations, T = 2,
  fed the CLIP priors (query masses and F_obj^Q, support background), with its default OT
  path (kernel domain, ``ot_domain='auto'``) and with the log-domain path
  (``ot_domain='log'``, :func:`mmfss.ot.sinkhorn`), same weights;

and prints the neck's time as a fraction of the backbone's (the supplement says the
refinement is negligible next to the backbone; target here: at most 15% on CPU).

It also counts each module's matrix-product and convolution FLOPs with PyTorch's
``torch.utils.flop_counter.FlopCounterMode`` (elementwise work such as Sinkhorn's exp is not
counted) and prints the achieved GFLOP/s: the FLOP ratio is the time ratio that equally
efficient kernels would give, so it bounds what any implementation of the same computation
can reach on the same hardware.
"""
import argparse
import statistics
import time

BACKBONE = dict(type='ResNetV1c', depth=50, num_stages=4, out_indices=(0, 1, 2, 3),
                dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), norm_cfg=dict(type='BN'),
                contract_dilation=True)


def timed(fn, repeats: int) -> float:
    fn()  # warm-up (allocations, compilation)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def count_flops(fn) -> int:
    """Matrix-product and convolution FLOPs of one call of ``fn``."""
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--crop', type=int, default=473)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=None, help='torch threads')
    args = parser.parse_args(argv)
    if args.crop < 64 or args.repeats < 1:
        parser.error('--crop must be >= 64 and --repeats >= 1')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    # imported after parsing, so --help answers at once
    import torch
    from mmseg.registry import MODELS

    import mmfss  # noqa: F401
    from mmfss.models import EpisodeFeatures
    from mmfss.models.utils.clip_grad_cam import vit_last_block_input, vit_scores
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images = torch.randn(2, 3, args.crop, args.crop)  # query + support
    backbone = MODELS.build(BACKBONE)
    backbone.eval()  # (mmseg's ResNet.train() returns None: no chaining)
    clip = MODELS.build(dict(type='CLIPPriorNeck', model_name='ViT-B-16', pretrained=None,
                             in_index=2))
    neck = MODELS.build(dict(type='OTGraphNeck', channels=256, attn_channels=128, num_iters=2,
                             ot_iters=3))
    neck.eval()
    # the same neck with the log-domain OT path (mmfss.ot.sinkhorn), for comparison
    log_neck = MODELS.build(dict(type='OTGraphNeck', channels=256, attn_channels=128,
                                 num_iters=2, ot_iters=3, ot_domain='log'))
    log_neck.load_state_dict(neck.state_dict())
    log_neck.eval()
    with torch.no_grad():
        feats = backbone(images)
    grid = tuple(feats[2].shape[-2:])
    names = ['aeroplane', 'aeroplane']
    priors = clip.priors(images, names, grid)

    def episode():
        f = EpisodeFeatures(
            query_feats=[f[:1] for f in feats], support_feats=[f[1:, None] for f in feats],
            support_masks=(torch.rand(1, 1, args.crop, args.crop) > 0.5).long(),
            query_inputs=images[:1], support_inputs=images[1:, None])
        f.priors['clip_fg'] = priors[0][:1]
        f.extras['support_clip_bg'] = priors[1][1:, None]
        return f

    clip_in = clip.to_clip(images)
    text = clip.text_embeddings(names)

    def clip_forward():  # the image encoder and the prompt scores, no gradient
        tokens, _, _ = vit_last_block_input(clip.clip.visual, clip_in)
        hooked = clip.clip.visual.transformer.resblocks[-1].ln_1(tokens)
        return vit_scores(clip.clip.visual, hooked, tokens, text, clip.tau)

    with torch.no_grad():
        t_backbone = timed(lambda: backbone(images), args.repeats)
        t_prior = timed(lambda: clip.priors(images, names, grid), args.repeats)
        t_clip = timed(clip_forward, args.repeats)
        t_neck = timed(lambda: neck(episode()), args.repeats)
        t_log = timed(lambda: log_neck(episode()), args.repeats)
        flops = dict(backbone=count_flops(lambda: backbone(images)),
                     prior=count_flops(lambda: clip.priors(images, names, grid)),
                     clip=count_flops(clip_forward),
                     neck=count_flops(lambda: neck(episode())),
                     log=count_flops(lambda: log_neck(episode())))
    n = grid[0] * grid[1]
    print(f'episode: 1 query + 1 support at {args.crop}x{args.crop}, node grid {grid} '
          f'(N = {n}), C = 256, d = 128, S = 3, T = 2; {torch.get_num_threads()} threads; '
          f'median of {args.repeats}')
    size = 'x'.join(str(x) for x in clip_in.shape[-2:])
    print(f'{"":44s} {"seconds":>8s} {"vs backbone":>12s} {"GFLOP":>8s} '
          f'{"vs backbone":>12s} {"GFLOP/s":>8s}')
    for name, t, key in (('ResNet-50 backbone (d8), 2 images', t_backbone, 'backbone'),
                         (f'CLIP prior (Grad-CAM + refine), 2 at {size}', t_prior, 'prior'),
                         (f'  CLIP ViT-B/16 forward alone, 2 at {size}', t_clip, 'clip'),
                         ('OTGraphNeck (kernel-domain OT)', t_neck, 'neck'),
                         ('OTGraphNeck (log-domain OT)', t_log, 'log')):
        f = flops[key]
        print(f'{name:44s} {t:8.3f} {100 * t / t_backbone:11.1f}% {f / 1e9:8.1f} '
              f'{100 * f / flops["backbone"]:11.1f}% {f / 1e9 / t:8.1f}')
    print(f'CLIP prior / CLIP forward = {t_prior / t_clip:.2f}x time, '
          f'{flops["prior"] / flops["clip"]:.2f}x FLOPs (the last block runs twice backward)')
    ratio = t_neck / t_backbone
    print(f'OTGraphNeck / backbone = {100 * ratio:.1f}% (target <= 15%): '
          f'{"met" if ratio <= 0.15 else "NOT met"}; FLOP ratio (the time ratio at equal '
          f'efficiency) {100 * flops["neck"] / flops["backbone"]:.1f}%')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
