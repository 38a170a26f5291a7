"""A web page for few-shot segmentation of your own images (needs the ``[web]`` extra).

    pip install -e ".[web]"
    python tools/webui.py CONFIG CHECKPOINT [--host 127.0.0.1] [--port 7860] [--device cpu]

then open the printed address. ``make web`` serves the ``make demo`` model (training it first
if its checkpoint is missing). The page listens on this machine only (127.0.0.1) unless
``--host`` says otherwise and never opens a public share link. Uploads and results live in a
temporary folder removed when the server stops.

On the page: per class a name (required by text-prior models such as DOTGraph) and one or
more support images, each with its object drawn with the brush or its mask file uploaded
(read by mmfss's mask reader, like ``tools/infer.py``); up to 3 classes at once; one or more
query images. Segment shows per query the colour overlay, the foreground probability of each
class and the panel, and offers the masks as PNGs. Supports are encoded once and reused while
only the queries change.
"""
import argparse
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='web page for few-shot segmentation of your own images',
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('config', help='config file of the trained model')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to listen on (default 127.0.0.1: this machine only; '
                        '0.0.0.0 serves every network the machine is on)')
    parser.add_argument('--port', type=int, default=None,
                        help="port (default: Gradio's first free port from 7860)")
    parser.add_argument('--device', default='cpu', help='device, e.g. cpu or cuda:0')
    parser.add_argument('--max-file-size', type=float, default=20, metavar='MB',
                        help='largest accepted upload in MB (default 20)')
    parser.add_argument('--max-queries', type=int, default=16,
                        help='most query images per request (default 16)')
    args = parser.parse_args(argv)
    if args.port is not None and not 0 < args.port < 65536:
        parser.error(f'--port must be in 1..65535, got {args.port}')
    if args.max_file_size <= 0:
        parser.error(f'--max-file-size must be > 0, got {args.max_file_size}')
    if args.max_queries < 1:
        parser.error(f'--max-queries must be >= 1, got {args.max_queries}')
    return args


def run(args):
    from mmfss.utils import check_checkpoint_file, check_config_file, check_device
    check_config_file(args.config)
    check_checkpoint_file(args.checkpoint)
    check_device(args.device)
    try:
        from mmfss.webui.page import serve
        import gradio  # noqa: F401
    except ImportError:
        raise ValueError('the web page needs Gradio: pip install -e ".[web]"') from None
    serve(args.config, args.checkpoint, host=args.host, port=args.port, device=args.device,
          max_file_size_mb=args.max_file_size, max_queries=args.max_queries)
    return 0


def main(argv=None):
    args = parse_args(argv)
    from mmfss.utils.tool_checks import run_tool
    return run_tool(lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
