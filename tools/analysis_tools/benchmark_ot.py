"""Benchmark mmfss.ot against POT on the same inputs (time and peak memory, fwd + bwd).

    python tools/analysis_tools/benchmark_ot.py [--sizes 900 3600] [--batches 1 8]
        [--iters 10] [--repeats 3] [--eps 0.05] [--dim 256] [--peer-timeout 900]
        [--tables balanced partial memory compile passes] [--allocators default retain]

Rows (same random 256-d features, squared-Euclidean cost scaled to [0, 2], same eps and
iteration count, forward + backward of sum(plan * W)):

* ``mmfss.ot.sinkhorn`` (``domain='auto'``: the kernel domain here, C++ passes) vs POT's
  batched ``ot.batch.solve_batch(..., method='log_sinkhorn', tol=0, grad='autodiff')``
  (same iterates, fixed iterations, unrolled autograd);
* ``mmfss.ot.partial_ot`` (batched) vs ``ot.partial.entropic_partial_wasserstein(...,
  method='sinkhorn_log', stopThr=-1)`` (one pair per call, torch backend, exactly
  ``--iters`` iterations, one leaf per pair), compared per pair.

Two more tables: ``compile`` (mmfss.ot.sinkhorn's log-domain eager vs ``torch.compile``
steps) and ``passes`` (partial_ot's kernel-domain passes as torch ops vs the C++ extension,
:mod:`mmfss.ot.kernel_passes`).

Each measurement runs in a fresh subprocess after one warm-up run (so ``torch.compile``'s
one-off compilation is not timed): time is the median of ``--repeats`` runs, peak memory is
the process's peak RSS growth during one forward + backward (CPU), or
``torch.cuda.max_memory_allocated`` on a GPU. A peer that fails (out of memory, time-out) is
reported as such. ``--allocators default retain`` times each table twice, under glibc's
default malloc and with freed memory kept in the process (both peers alike; see
``ALLOCATORS``): large tensors are otherwise page-faulted in afresh on every allocation,
which on a VM can cost more than the solver's own passes. The memory-bandwidth floor of one
iteration is the bytes it must touch (two reads of the [B, N, M] float32 kernel) divided by
the measured copy bandwidth.
"""
import argparse
import itertools
import json
import os
import subprocess
import sys
import time

CHILD = r'''
import json, os, statistics, sys, time, warnings
import torch
cfg = json.loads(sys.argv[1])
torch.manual_seed(0)
dev = torch.device(cfg['device'])
B, N, D, L, eps = cfg['batch'], cfg['size'], cfg['dim'], cfg['iters'], cfg['eps']

def status_kb(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(field)

def reset_peak_rss():
    """Linux: writing 5 to clear_refs resets VmHWM (peak RSS) to the current RSS."""
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')

q = torch.nn.functional.normalize(torch.randn(B, N, D, device=dev), dim=-1)
s = torch.nn.functional.normalize(torch.randn(B, N, D, device=dev), dim=-1)
cost0 = (torch.cdist(q, s) ** 2 / 2).contiguous()  # in [0, 2]
W = torch.randn(B, N, N, device=dev)
mass = 0.5

def run_once():
    cost = cost0.clone().requires_grad_() if cfg['solver'] != 'pot.entropic_partial' else None
    if cfg['solver'].startswith('mmfss.sinkhorn'):
        from mmfss.ot import sinkhorn
        # ':eager' / ':compiled': the log domain's steps; plain: domain='auto' (the kernel
        # domain here, max|C| / eps = 40)
        mode = cfg['solver'].split(':')[-1]
        flag = dict(eager=False, compiled=True).get(mode, 'auto')
        domain = 'log' if mode in ('eager', 'compiled') else 'auto'
        plan = sinkhorn(cost, eps=eps, num_iters=L, compile=flag, domain=domain)
        (plan * W).sum().backward()
    elif cfg['solver'] == 'pot.solve_batch':
        import ot
        res = ot.batch.solve_batch(cost, reg=eps, max_iter=L, tol=0, method='log_sinkhorn',
                                   grad='autodiff')
        (res.plan * W).sum().backward()
    elif cfg['solver'].startswith('mmfss.partial_ot'):
        from mmfss.ot import kernel_passes, partial_ot
        # ':torch': the kernel passes as torch ops instead of the C++ extension
        kernel_passes.BACKEND = 'torch' if cfg['solver'].endswith(':torch') else 'auto'
        plan = partial_ot(cost, None, None, mass, eps=eps, num_iters=L)
        (plan * W).sum().backward()
    elif cfg['solver'] == 'pot.entropic_partial':
        import ot
        a = torch.full((N, ), 1.0 / N, device=dev, dtype=cost0.dtype)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            for i in range(B):  # POT solves one pair per call
                # one leaf per pair: backpropagating through cost[i] of a batch leaf would
                # build and accumulate a [B, N, N] gradient per pair (B times the work)
                cost_i = cost0[i].clone().requires_grad_()
                # stopThr=-1: exactly L iterations (POT stops when its change in the log
                # plan is <= stopThr, and in float32 that change can round to 0 after one)
                plan = ot.partial.entropic_partial_wasserstein(
                    a, a, cost_i, eps, m=torch.tensor(mass, dtype=cost_i.dtype, device=dev),
                    method='sinkhorn_log', numItermax=L, stopThr=-1)
                (plan * W[i]).sum().backward()
    if dev.type == 'cuda':
        torch.cuda.synchronize()

import mmfss.ot, ot  # noqa: import cost is not measured
run_once()  # warm-up: compilation, allocator and thread-pool start-up are not measured
if cfg['mode'] == 'memory':
    if dev.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        run_once()
        peak_mb = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        reset_peak_rss()
        before = status_kb('VmRSS')
        run_once()
        peak_mb = (status_kb('VmHWM') - before) / 1024
    print(json.dumps(dict(peak_mb=peak_mb)))
else:
    times = []
    for _ in range(cfg['repeats']):
        t = time.perf_counter()
        run_once()
        times.append(time.perf_counter() - t)
    print(json.dumps(dict(time_s=statistics.median(times))))
'''


# glibc maps every allocation above 32 MB freshly and unmaps it on free, so each large
# tensor is page-faulted in again (on this VM several passes' worth, and erratically).
# 'retain' keeps freed memory in the process (what a caching allocator such as jemalloc or
# tcmalloc, recommended by PyTorch's CPU tuning guide, does): heap only, never trimmed.
ALLOCATORS = dict(default={},
                  retain=dict(MALLOC_MMAP_MAX_='0', MALLOC_TRIM_THRESHOLD_=str(1 << 40)))


def _child(cfg, timeout, env=None):
    try:
        proc = subprocess.run([sys.executable, '-c', CHILD, json.dumps(cfg)], env=env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return dict(error=f'time-out > {timeout} s')
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ['?'])[-1]
        if proc.returncode in (-9, 137) or 'memory' in tail.lower():
            return dict(error='out of memory')
        return dict(error=tail[:80])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(solver, args, size, batch, device, what=('time', 'memory'), allocator='default'):
    """Time (median, under ``allocator``) and peak memory (separate process) of one solver."""
    cfg = dict(solver=solver, size=size, batch=batch, dim=args.dim, iters=args.iters,
               eps=args.eps, repeats=args.repeats, device=device)
    out = {}
    if 'time' in what:
        env = dict(os.environ, **ALLOCATORS[allocator])
        out.update(_child(dict(cfg, mode='time'), args.peer_timeout, env))
    if 'memory' in what and 'error' not in out:
        # A fixed mmap threshold makes glibc map every large tensor separately and unmap it
        # on free, so the peak-RSS growth after the warm-up run tracks live tensors (it
        # slows allocation down, hence the separate timing process).
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_='131072')
        out.update(_child(dict(cfg, mode='memory'), args.peer_timeout, env))
    return out


def copy_bandwidth(device, nbytes):
    """Copy bandwidth (bytes read + written per second) for buffers of ``nbytes``."""
    import torch
    src = torch.empty(max(nbytes, 64 * 2**20) // 4, device=device)
    src.normal_()
    dst = torch.empty_like(src)
    times = []
    for _ in range(5):
        if device == 'cuda':
            torch.cuda.synchronize()
        t = time.perf_counter()
        dst.copy_(src)
        if device == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return 2 * src.numel() * 4 / min(times)  # bytes read + written per second


def fmt(r, key, unit):
    return f'{r[key]:9.3f}{unit}' if 'error' not in r else f'{r["error"]:>10s}'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[900, 3600])
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 8])
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--eps', type=float, default=0.05)
    parser.add_argument('--dim', type=int, default=256)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--peer-timeout', type=int, default=900)
    parser.add_argument('--mem-iters', type=int, nargs='*', default=[2, 10, 40],
                        help='iteration counts of the memory-vs-iterations table (balanced '
                        'Sinkhorn at the first size and the last batch); empty to skip')
    parser.add_argument('--tables', nargs='+', default=['balanced', 'partial', 'memory',
                                                        'compile', 'passes'],
                        choices=['balanced', 'partial', 'memory', 'compile', 'passes'],
                        help='which tables to print')
    parser.add_argument('--allocators', nargs='+', default=['default'],
                        choices=sorted(ALLOCATORS),
                        help="time each table under these glibc malloc settings (both peers "
                        "alike): 'default', or 'retain' (MALLOC_MMAP_MAX_=0, "
                        'MALLOC_TRIM_THRESHOLD_=2^40: freed memory is reused instead of '
                        'unmapped and faulted in again)')
    parser.add_argument('--json', help='also write the rows to this file')
    args = parser.parse_args()

    import torch
    from mmfss.ot import kernel_passes
    print(kernel_passes.describe())
    print(f'device {args.device}, {os.cpu_count()} CPU cores, {torch.get_num_threads()} torch '
          f'threads; {args.iters} iterations, eps {args.eps}, {args.dim}-d features, median '
          f'of {args.repeats}; floor bandwidth measured per row with a kernel-sized copy')
    bandwidths = {}
    header = (f'{"N":>5} {"B":>2} | {"mmfss time":>10} {"peak MB":>10} | {"POT time":>10} '
              f'{"peak MB":>10} | {"speed-up":>8} {"mem ratio":>9} | {"floor ms/it":>11} '
              f'{"mmfss/floor":>11} {"POT/floor":>9}')
    rows = []
    problems = [p for p in (
            ('balanced', 'balanced Sinkhorn: mmfss.ot.sinkhorn vs ot.batch.solve_batch('
             'log_sinkhorn, autodiff)', 'mmfss.sinkhorn', 'pot.solve_batch', False),
            ('partial', 'partial OT: mmfss.ot.partial_ot vs ot.partial.'
             'entropic_partial_wasserstein(sinkhorn_log), times per pair', 'mmfss.partial_ot',
             'pot.entropic_partial', True)) if p[0] in args.tables]
    for (_, title, ours, peer, per_pair), allocator in itertools.product(
            problems, args.allocators):
        print(f'\n{title}; {allocator} allocator\n{header}')
        for size in args.sizes:
            for batch in args.batches:
                a = measure(ours, args, size, batch, args.device, allocator=allocator)
                p = measure(peer, args, size, batch, args.device, allocator=allocator)
                if per_pair:
                    for r in (a, p):
                        if 'error' not in r:
                            r['time_s'] /= batch
                extra = 1 if per_pair else 0
                kernel_bytes = batch * (size + extra)**2 * 4
                if (size, batch) not in bandwidths:
                    bandwidths[(size, batch)] = copy_bandwidth(args.device, kernel_bytes)
                floor = 2 * kernel_bytes / bandwidths[(size, batch)]  # s per iteration
                floor_pair = floor / batch if per_pair else floor
                ratio = mem = mine_floor = peer_floor = float('nan')
                if 'error' not in a:
                    mine_floor = a['time_s'] / args.iters / floor_pair
                if 'error' not in a and 'error' not in p:
                    ratio = p['time_s'] / a['time_s']
                    mem = a['peak_mb'] / max(p['peak_mb'], 1e-9)
                if 'error' not in p:
                    peer_floor = p['time_s'] / args.iters / floor_pair
                print(f'{size:5d} {batch:2d} | {fmt(a, "time_s", "s")} '
                      f'{fmt(a, "peak_mb", "")} | {fmt(p, "time_s", "s")} '
                      f'{fmt(p, "peak_mb", "")} | {ratio:7.1f}x {mem:9.3f} | '
                      f'{floor_pair * 1e3:11.2f} {mine_floor:10.1f}x {peer_floor:8.1f}x')
                rows.append(dict(problem=ours, allocator=allocator, size=size, batch=batch,
                                 mmfss=a, pot=p,
                                 floor_s_per_iter=floor_pair,
                                 bandwidth=bandwidths[(size, batch)]))
    if 'compile' in args.tables:
        print('\nmmfss.ot.sinkhorn, eager steps vs torch.compile steps (forward + backward; '
              "compile='auto' picks compiled from "
              f'{1 << 20} kernel entries)')
        print(f'{"N":>5} {"B":>2} | {"eager":>10} | {"compiled":>10} | {"speed-up":>8}')
        for size in args.sizes:
            for batch in args.batches:
                e = measure('mmfss.sinkhorn:eager', args, size, batch, args.device, ('time', ))
                c = measure('mmfss.sinkhorn:compiled', args, size, batch, args.device,
                            ('time', ))
                ratio = (e['time_s'] / c['time_s'] if 'error' not in e and 'error' not in c
                         else float('nan'))
                print(f'{size:5d} {batch:2d} | {fmt(e, "time_s", "s")} | '
                      f'{fmt(c, "time_s", "s")} | {ratio:7.1f}x')
                rows.append(dict(problem='compile', size=size, batch=batch, eager=e,
                                 compiled=c))
    if 'passes' in args.tables:
        from mmfss.ot import kernel_passes
        built = 'built' if kernel_passes.extension_available() else 'NOT BUILT (torch ops twice)'
        print('\nmmfss.ot.partial_ot (kernel domain), kernel passes as torch ops vs the C++ '
              f'extension ({built}); forward + backward per pair')
        print(f'{"N":>5} {"B":>2} | {"torch ops":>10} | {"C++":>10} | {"speed-up":>8}')
        for size in args.sizes:
            for batch in args.batches:
                t = measure('mmfss.partial_ot:torch', args, size, batch, args.device, ('time', ))
                c = measure('mmfss.partial_ot', args, size, batch, args.device, ('time', ))
                for r in (t, c):
                    if 'error' not in r:
                        r['time_s'] /= batch
                ratio = (t['time_s'] / c['time_s'] if 'error' not in t and 'error' not in c
                         else float('nan'))
                print(f'{size:5d} {batch:2d} | {fmt(t, "time_s", "s")} | '
                      f'{fmt(c, "time_s", "s")} | {ratio:7.1f}x')
                rows.append(dict(problem='passes', size=size, batch=batch, torch_ops=t,
                                 extension=c, extension_built=kernel_passes.extension_available()))
    if args.mem_iters and 'memory' in args.tables:
        size, batch = args.sizes[0], args.batches[-1]
        print(f'\npeak memory (MB) of forward + backward vs iterations, balanced Sinkhorn, '
              f'N={size}, B={batch} (one [B, N, N] float32 kernel = '
              f'{batch * size * size * 4 / 2**20:.0f} MB)')
        print(f'{"iters":>5} | {"mmfss":>10} | {"POT":>10}')
        for iters in args.mem_iters:
            sub = argparse.Namespace(**dict(vars(args), iters=iters, repeats=1))
            a = measure('mmfss.sinkhorn', sub, size, batch, args.device, ('memory', ))
            p = measure('pot.solve_batch', sub, size, batch, args.device, ('memory', ))
            print(f'{iters:5d} | {fmt(a, "peak_mb", "")} | {fmt(p, "peak_mb", "")}')
            rows.append(dict(problem='memory_vs_iters', iters=iters, size=size, batch=batch,
                             mmfss=a, pot=p))
    print('\nspeed-up = POT time / mmfss time; mem ratio = mmfss peak / POT peak; x/floor = '
          'measured time per iteration (forward + backward) / bandwidth floor of one forward '
          'iteration.')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(rows=rows), f, indent=1)


if __name__ == '__main__':
    main()
