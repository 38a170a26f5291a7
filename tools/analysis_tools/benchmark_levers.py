"""Speed levers of mmfss, each next to the implementation it replaced, in one process.

    python tools/analysis_tools/benchmark_levers.py [--levers grad-cam text-cache attention]
        [attention-inference sinkhorn-backward split-conv] [--rounds 7] [--image-size 480]
        [--nodes 3600] [--channels 256] [--batch 2] [--tiny]

Every lever keeps results (its test holds the numbers equal); this tool measures what each
costs against what it replaced, the two alternating round by round after one untimed round
(median and minimum in seconds, ratio of the medians, and of the minima):

* ``grad-cam``: DOTGraph's / PI-CLIP's CLIP prior
  (:meth:`~mmfss.models.CLIPPriorNeck.cams`: the frozen blocks before the last one run
  without autograd, only the last block is differentiated) against the graph a generic
  Grad-CAM builds (``pytorch_grad_cam``, which PI-CLIP vendors: the image enters with
  autograd and each prompt's backward runs through every block down to the input), on
  ``--batch`` images of ``--image-size`` with the configs' prompt set (27 prompts),
  foreground and background targets and the 8 attention maps of the affinity refinement;
* ``text-cache``: the prompt set's text embeddings from
  :meth:`~mmfss.models.CLIPPriorNeck.text_embeddings` with its cache warm (every later
  episode of the class) against encoding them (the first episode, or no cache);
* ``attention``: CMNet's message passing (:class:`~mmfss.models.necks.message_flow_neck.
  MessagePassing`, fused ``scaled_dot_product_attention``) against the explicit
  ``softmax(q^T k s) v`` with the same weights, ``--nodes`` x ``--nodes`` nodes of
  ``--channels``, forward and backward (``attention``) and forward without autograd
  (``attention-inference``);
* ``sinkhorn-backward``: DOTGraph's kernel-domain Sinkhorn scalings
  (:func:`~mmfss.ot.kernel_sinkhorn_scalings`, its backward forming the kernel's gradient in
  one product) against differentiating the unrolled iterations, on a [``--batch``,
  ``--nodes``, ``--nodes``] kernel with the OT graph's 2 problems and 3 iterations,
  forward and backward;
* ``split-conv``: CMNet's training step with both strides (``_mfm-pot-stride2``, batch
  ``--batch``, 1-shot, 473 crops; ``--tiny``: 97 crops) where convolutions of
  concatenations are split into their parts (:mod:`mmfss.models.utils.split_conv`: the mask
  refinement convolves the features once for all its iterations, the message update's
  message half runs on the cells) against the concatenated convolutions, the same weights.

The levers measured inside a whole training step (the supports' deferred last stage,
channels-last, the same-size resizes) are in ``benchmark_speed.py``'s tables and
docs/speed.md. Random weights of the real architectures (open_clip ViT-B/16; ``--tiny``:
a 2-block width-64 ViT and 64 nodes, for the tests); the CPU is named in the output.
"""
import argparse
import os.path as osp
import statistics
import sys
import time
from typing import Callable, Dict, List

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LEVERS = ('grad-cam', 'text-cache', 'attention', 'attention-inference', 'sinkhorn-backward',
          'split-conv')
TINY_CLIP = dict(embed_dim=64,
                 vision_cfg=dict(image_size=64, layers=2, width=64, patch_size=16,
                                 head_width=32),
                 text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=2,
                               layers=2))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--levers', nargs='+', default=list(LEVERS), choices=LEVERS)
    parser.add_argument('--rounds', type=int, default=7, help='timed rounds per side')
    parser.add_argument('--image-size', type=int, default=480,
                        help="CLIP's input side (473 crops enter at 480)")
    parser.add_argument('--nodes', type=int, default=3600, help='message-passing nodes')
    parser.add_argument('--channels', type=int, default=256, help='message-passing width')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--threads', type=int, default=None, help='torch threads')
    parser.add_argument('--tiny', action='store_true', help='tiny models (for the tests)')
    args = parser.parse_args(argv)
    for name in ('rounds', 'image_size', 'nodes', 'channels', 'batch'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1, got '
                         f'{getattr(args, name)}')
    if args.image_size % 16:
        parser.error(f'--image-size must be a multiple of the patch size 16, got '
                     f'{args.image_size}')
    return args


def alternate(sides: Dict[str, Callable[[], object]], rounds: int) -> Dict[str, List[float]]:
    """Seconds per call of each side, the sides alternating, after one untimed round."""
    times = {name: [] for name in sides}
    for r in range(rounds + 1):
        for name, fn in sides.items():
            start = time.perf_counter()
            fn()
            if r:
                times[name].append(time.perf_counter() - start)
    return times


def _clip_neck(args):
    from mmfss.models import CLIPPriorNeck
    return CLIPPriorNeck(model_name='ViT-B-16', pretrained=None, quick_gelu=True,
                         model_cfg=TINY_CLIP if args.tiny else None, in_index=2)


def grad_cam_sides(args) -> Dict[str, Callable]:
    import torch

    from mmfss.models.utils.clip_grad_cam import vit_last_block_input, vit_scores
    neck = _clip_neck(args).eval()
    visual = neck.clip.visual
    g = torch.Generator().manual_seed(0)
    images = torch.randn(args.batch, 3, args.image_size, args.image_size, generator=g) * 50
    names = ['aeroplane'] * args.batch
    clip_images = neck.to_clip(images)
    text = neck.text_embeddings(names)
    targets = [0, 1]  # foreground, background prompt

    def whole_graph():
        x = clip_images.clone().requires_grad_(True)
        with torch.enable_grad():
            block_input, _, _ = vit_last_block_input(visual, x, neck.affinity_layers - 1)
            hooked = visual.transformer.resblocks[-1].ln_1(block_input)
            hooked.retain_grad()
            probs, _ = vit_scores(visual, hooked, block_input, text, neck.tau, True)
            for i, t in enumerate(targets):
                probs[:, t].sum().backward(retain_graph=i + 1 < len(targets))

    return {'last block only (mmfss)': lambda: neck.cams(images, names),
            'every block to the input': whole_graph}


def text_cache_sides(args) -> Dict[str, Callable]:
    neck = _clip_neck(args)
    names = ['aeroplane']

    def encode():
        neck._text_cache.clear()
        neck.text_embeddings(names)

    neck.text_embeddings(names)
    return {'cached (mmfss)': lambda: neck.text_embeddings(names), 'encoded': encode}


def attention_sides(args, train: bool = True) -> Dict[str, Callable]:
    import torch

    from mmfss.models.necks.message_flow_neck import MessagePassing
    nodes, channels = (64, 16) if args.tiny else (args.nodes, args.channels)
    torch.manual_seed(0)
    layer = MessagePassing(channels)
    target = torch.randn(args.batch, channels, nodes, requires_grad=True)
    source = torch.randn(args.batch, channels, nodes, requires_grad=True)

    def explicit(t, s):
        q, k, v = layer.query(t), layer.key(s), layer.value(s)
        weights = torch.softmax(torch.bmm(q.transpose(1, 2), k) * layer.scale, dim=-1)
        return torch.bmm(v, weights.transpose(1, 2))

    def step(fn):
        def run():
            with torch.set_grad_enabled(train):
                out = fn(target, source)
            if train:
                out.sum().backward()
        return run

    with torch.no_grad():
        err = float((layer.message(target, source) - explicit(target, source)).abs().max())
    if err > 1e-4:
        raise AssertionError(f'fused and explicit attention differ by {err}')
    return {'fused SDPA (mmfss)': step(layer.message), 'explicit softmax(QK^T)V': step(explicit)}


def sinkhorn_sides(args) -> Dict[str, Callable]:
    import torch

    from mmfss.ot import kernel_sinkhorn_scalings
    nodes = 64 if args.tiny else args.nodes
    g = torch.Generator().manual_seed(0)
    kernel = torch.rand(args.batch, nodes, nodes, generator=g).requires_grad_()
    a = torch.rand(args.batch, nodes, 2, generator=g)
    b = torch.rand(args.batch, nodes, 2, generator=g)

    def unrolled(k, x, y, num_iters):
        u = torch.ones_like(x)
        for _ in range(num_iters):
            v = y / torch.bmm(k.transpose(1, 2), u)
            u = x / torch.bmm(k, v)
        return u, v

    def step(fn):
        def run():
            u, v = fn(kernel, a, b, 3)
            (u.sum() + v.sum()).backward()
            kernel.grad = None
        return run

    return {'one product for dK (mmfss)': step(kernel_sinkhorn_scalings),
            'unrolled products': step(unrolled)}


def split_conv_sides(args) -> Dict[str, Callable]:
    from unittest import mock

    from benchmark_speed import MmfssSide

    import mmfss.models.decode_heads.ppm_few_shot_head as head_module
    from mmfss.models.necks.message_flow_neck import MessagePassing
    options = argparse.Namespace(
        crop=97 if args.tiny else 473, batch=args.batch, shot=1, device='cpu',
        model_options=['necks.1.message_stride=2', 'necks.2.matching_stride=2'])
    split, whole = MmfssSide('cmnet', options), MmfssSide('cmnet', options)

    def concatenated():
        with mock.patch.object(head_module, 'splits_by_channels', lambda m: False), \
                mock.patch.object(MessagePassing, 'splits_update', False):
            whole.train_step()

    return {'split convolutions (mmfss)': split.train_step,
            'concatenated': concatenated}


SIDES = {'grad-cam': grad_cam_sides, 'text-cache': text_cache_sides,
         'attention': attention_sides,
         'attention-inference': lambda args: attention_sides(args, train=False),
         'sinkhorn-backward': sinkhorn_sides, 'split-conv': split_conv_sides}


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch
    sys.path.insert(0, osp.join(REPO, 'tools'))
    sys.path.insert(0, REPO)
    from mmengine.registry import init_default_scope

    import mmfss  # noqa: F401  registers the models
    from benchmark_speed import cpu_name
    init_default_scope('mmseg')
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f'device: {cpu_name()}, {torch.get_num_threads()} threads; torch '
          f'{torch.__version__}; {args.rounds} alternating rounds after 1 untimed'
          + (' (tiny models)' if args.tiny else ''))
    print('| lever | mmfss s, median (min) | replaced s, median (min) | ratio, median (min) |')
    print('| --- | --- | --- | --- |')
    for lever in args.levers:
        sides = SIDES[lever](args)
        times = alternate(sides, args.rounds)
        (ours, new), (theirs, old) = list(times.items())
        print(f'| {lever}: {ours} vs {theirs} | {statistics.median(new):.3f} '
              f'({min(new):.3f}) | {statistics.median(old):.3f} ({min(old):.3f}) | '
              f'{statistics.median(new) / statistics.median(old):.2f} '
              f'({min(new) / min(old):.2f}) |', flush=True)
    return 0


if __name__ == '__main__':
    sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
    sys.exit(main())
