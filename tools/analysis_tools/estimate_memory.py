# Training memory of each paper config at its batch, shot and crop, estimated without a GPU.
#
#   python tools/analysis_tools/estimate_memory.py [CONFIG ...] [--out FILE.md]
#
# The model is built with random weights of its real architectures and moved to PyTorch's
# meta device (shapes and dtypes, no data, no compute), then one training forward runs on a
# synthetic batch of the config's size. Counted, in float32:
#   parameters (all, frozen included) + gradients and optimizer state of the trainable ones
#   (SGD with momentum: 1 buffer; Adam/AdamW: 2) + the activations saved for backward that
#   are still held when the forward ends (torch.autograd.graph.saved_tensors_hooks; each
#   storage once; the CLIP Grad-CAM's own graph is freed inside the forward and not counted).
# Attention (F.scaled_dot_product_attention) is counted as CUDA's fused kernels keep it for
# backward (query, key, value, output and the log-sum-exp), not with the N x N weights
# that the CPU math path would keep.
# Not counted: the forward's transient peaks, cuDNN workspaces, the CUDA context (~0.5 GB)
# and the allocator's fragmentation, so a card needs some margin above the total. Mixed
# precision (--amp) stores most activations in half precision: less than this.
import argparse
import os.path as osp
import sys
import weakref

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools'))


def parse_args():
    parser = argparse.ArgumentParser(description='Estimate the training memory of configs')
    parser.add_argument('configs', nargs='*', help='configs (default: the fold-0 paper '
                        'configs of tools/gpu_check.py)')
    parser.add_argument('--out', help='also write the Markdown table to this file')
    return parser.parse_args()


class _FusedAttention:
    """``F.scaled_dot_product_attention`` on the meta device, saving for backward what
    CUDA's memory-efficient kernel saves: q, k, v, the output and the log-sum-exp."""

    def __init__(self):
        import torch

        class Function(torch.autograd.Function):

            @staticmethod
            def forward(ctx, q, k, v):
                out = q.new_empty(q.shape[:-1] + v.shape[-1:])
                lse = q.new_empty(q.shape[:-1], dtype=torch.float32)
                ctx.save_for_backward(q, k, v, out, lse)
                return out

            @staticmethod
            def backward(ctx, grad):
                q, k, v, _, _ = ctx.saved_tensors
                return torch.zeros_like(q), torch.zeros_like(k), torch.zeros_like(v)

        self.function = Function

    def __call__(self, q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                 **kwargs):
        return self.function.apply(q, k, v)


def estimate(path: str) -> dict:
    import copy

    import torch
    from mmengine.model import revert_sync_batchnorm
    from mmseg.registry import MODELS

    from gpu_check import _seg_batch, load_offline, synthetic_batch
    from mmfss.testing import MetaHostReads
    cfg, batch, shot, size = load_offline(path)
    torch.manual_seed(0)
    model = revert_sync_batchnorm(MODELS.build(copy.deepcopy(cfg.model)))
    model.to('meta').train()
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    trainable = sum(p.numel() * p.element_size() for p in model.parameters()
                    if p.requires_grad)
    optimizer = cfg.optim_wrapper.optimizer.type
    states = 2 if 'Adam' in optimizer else 1 if cfg.optim_wrapper.optimizer.get(
        'momentum', 0) else 0
    data = (_seg_batch(batch, size, cfg.model.decode_head.get('num_classes', 2))
            if cfg.model.type == 'EncoderDecoder' else
            synthetic_batch(batch, shot, size, 'aeroplane', train=True))
    saved = []

    def pack(t):
        saved.append((weakref.ref(t), t.untyped_storage()._cdata,
                      t.untyped_storage().nbytes()))
        return t

    # mmseg's own accuracy indexes by a boolean mask (data-dependent shape): on the meta
    # device count every pixel as labelled, as the training crops mostly are
    import torch.fx.experimental._config as fx_config
    import torch.nn.functional as F
    sdpa = F.scaled_dot_product_attention
    F.scaled_dot_product_attention = _FusedAttention()
    try:
        with MetaHostReads(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), \
                fx_config.patch(meta_nonzero_assume_all_nonzero=True):
            data = model.data_preprocessor(data, True)
            losses = model(**data, mode='loss')
    finally:
        F.scaled_dot_product_attention = sdpa
    held = {}
    for ref, key, nbytes in saved:
        if ref() is not None:
            held[key] = nbytes
    activations = sum(held.values())
    del losses
    gib = 2**30
    return dict(config=osp.relpath(path, osp.join(REPO, 'configs')), batch=batch, shot=shot,
                crop=f'{size[0]}x{size[1]}', params=params / gib,
                grads_optimizer=trainable * (1 + states) / gib, activations=activations / gib,
                total=(params + trainable * (1 + states) + activations) / gib)


def main() -> int:
    args = parse_args()
    sys.path.insert(0, REPO)
    from mmfss.utils.tool_checks import run_tool
    return run_tool(lambda: estimate_all(args))


def estimate_all(args) -> int:
    import torch
    from mmengine.registry import init_default_scope

    import mmfss  # noqa: F401
    from gpu_check import PAPER_CONFIGS
    init_default_scope('mmseg')
    from mmfss.utils import check_config_file
    configs = args.configs or [osp.join(REPO, 'configs', c) for c in PAPER_CONFIGS]
    for path in configs:
        check_config_file(path)
    lines = ['| config | batch x shot | crop | parameters GiB | grads + optimizer GiB | '
             'saved activations GiB | total GiB (fp32, per GPU) |',
             '| --- | ---: | --- | ---: | ---: | ---: | ---: |']
    print('\n'.join(lines), flush=True)
    for path in configs:
        r = estimate(path)
        line = (f"| {r['config']} | {r['batch']} x {r['shot']} | {r['crop']} | "
                f"{r['params']:.2f} | {r['grads_optimizer']:.2f} | {r['activations']:.2f} | "
                f"{r['total']:.1f} |")
        print(line, flush=True)
        lines.append(line)
    if args.out:
        with open(args.out, 'w') as f:
            f.write('\n'.join(lines) + '\n')
    print(f'(torch {torch.__version__}; estimates, see the header of this script)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
