"""`python3 -m xpusim ...`: the xpusim command line. `sweep` runs here (xpusim.sweeps.main); every
other command (kernel, run, serve, compare, list, params, validate) is the C++ CLI, run in-process
through the compiled module, so an installed package needs no separate executable."""
import sys


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sweep":
        from .sweeps import main as sweep_main
        return sweep_main(argv[1:])
    if argv and argv[0] == "report":
        from .analysis import main as report_main
        return report_main(argv[1:])
    from . import _xpusim
    sys.stdout.flush()
    return _xpusim.cli_main(["xpusim"] + argv)


def entry():
    """The `xpusim` console script of an installed package."""
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
