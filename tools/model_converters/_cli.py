"""The command line shared by the reference-checkpoint converters of this folder
(``*2mmfss.py``): ``SRC DST``, one conversion, one ``error:`` line on bad input. Not a tool:
``--help`` of a converter answers before torch or mmfss is imported."""
import argparse
from typing import List, Optional

__all__ = ['converter_main']


def converter_main(doc: str, converter: str, src_help: str, dst_example: str,
                   argv: Optional[List[str]] = None) -> int:
    """Parse ``SRC DST`` and convert with ``mmfss.utils.reference_weights.<converter>``.

    Args:
        doc (str): The script's docstring (its first line is the description, the whole the
            epilog of ``--help``).
        converter (str): Name of the conversion function in
            :mod:`mmfss.utils.reference_weights`.
        src_help (str): What SRC is.
        dst_example (str): An example DST (under ``pretrain/``).
        argv (list[str], optional): Arguments (default: the command line).

    Returns:
        int: The exit status (0, or 2 after an ``error:`` line).
    """
    parser = argparse.ArgumentParser(description=doc.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=doc)
    parser.add_argument('src', help=src_help)
    parser.add_argument('dst', help=f'output file, e.g. {dst_example}')
    args = parser.parse_args(argv)
    from mmfss.utils import reference_weights
    from mmfss.utils.tool_checks import run_tool

    def run() -> int:
        reference_weights.convert_file(args.src, args.dst, getattr(reference_weights, converter))
        return 0

    return run_tool(run)
