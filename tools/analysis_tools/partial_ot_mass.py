"""How much of CMNet's partial-OT mass M is matched, from where, and how far the prior
exceeds 1, for PartialOTMatchingNeck's settings (supply, eps, iterations).

    python tools/analysis_tools/partial_ot_mass.py [--size 60] [--dim 256] [--eps 0.05 0.1]
        [--iters 10 30 100]

Synthetic episode of the size of a 473x473 crop at 1/8 (60x60 nodes, N = 3600): support
and query each hold an object (a 30x30 block, 25% of the nodes, at different places) whose
node features scatter widely around one direction, on a background whose features are
tight around another. Per setting: the matched mass sum(T) against M (relative error), the
share of M that leaves support-object nodes, the prior (mask-filtered flow / demand) inside
and outside the query object, and its maximum (a probability should stay <= 1).
"""
import argparse


def synthetic_episode(size: int, dim: int, seed: int = 0):
    """Support and query nodes [1, 1, C, h, w] / [1, C, h, w] and their object masks."""
    import torch
    import torch.nn.functional as F
    g = torch.Generator().manual_seed(seed)
    obj_dir, bg_dir = F.normalize(torch.randn(2, dim, generator=g), dim=1)

    def image(top, left):
        mask = torch.zeros(size, size, dtype=torch.long)
        mask[top:top + size // 2, left:left + size // 2] = 1
        noise = torch.randn(dim, size, size, generator=g) / dim**0.5
        feats = torch.where(mask.bool(), obj_dir[:, None, None] + 1.0 * noise,
                            bg_dir[:, None, None] + 0.1 * noise)
        return feats, mask

    support, support_mask = image(size // 4, size // 4)
    query, query_mask = image(0, size // 2)
    return support[None, None], support_mask[None, None], query[None], query_mask


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=60)
    parser.add_argument('--dim', type=int, default=256)
    parser.add_argument('--eps', type=float, nargs='+', default=[0.05, 0.1])
    parser.add_argument('--iters', type=int, nargs='+', default=[10, 30, 100])
    args = parser.parse_args()
    import torch  # after parsing: --help answers at once

    from mmseg.registry import MODELS

    import mmfss  # noqa: F401  registers the neck
    support, support_mask, query, query_mask = synthetic_episode(args.size, args.dim)
    inside = query_mask.flatten().bool()
    print(f'{args.size}x{args.size} nodes (N = {args.size**2}), {args.dim}-d; object = '
          f'{inside.float().mean():.0%} of the nodes')
    print(f'{"supply":>8} {"eps":>5} {"iters":>5} | {"|sum T - M| / M":>15} '
          f'{"from object":>11} | {"prior in":>8} {"prior out":>9} {"max prior":>9}')
    for supply in ('uniform', 'object'):
        for eps in args.eps:
            for iters in args.iters:
                neck = MODELS.build(dict(type='PartialOTMatchingNeck', supply=supply, eps=eps,
                                         num_iters=iters))
                with torch.no_grad():
                    out = neck.match(query, support, support_mask)
                plan, mass, node_mask = out['plan'][0], out['mass'][0], out['node_mask'][0]
                error = (plan.sum() - mass).abs() / mass
                from_object = (plan.sum(1) * node_mask).sum() / mass
                prior = out['prior'].flatten()
                print(f'{supply:>8} {eps:5.2f} {iters:5d} | {error:15.4f} {from_object:11.4f} | '
                      f'{prior[inside].mean():8.3f} {prior[~inside].mean():9.3f} '
                      f'{prior.max():9.3f}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
