"""No user-supplied string reaches a shell or escapes its output folder (hardening issue, first cases)."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(ROOT, "tests", "data", "models", "tiny-llama.json")
SMALL = ["--chips", "h100-sxm", "--model", TINY, "--input", "64", "--output", "16", "--max-batch", "4"]


def test_compare_out_with_shell_metacharacters_runs_no_shell(cli, tmp_path):
    canary = tmp_path / "F"
    # Quotes, a command separator and a command substitution: a shell would create F.
    out = tmp_path / ("x';touch %s;echo '$(touch %s)" % (canary, canary))
    cli("compare", *SMALL, "--out", str(out))
    assert not canary.exists()
    # The folder was taken verbatim, and the report was written into it.
    assert (out / "summary.json").exists() and (out / "report.html").exists()


def test_compare_name_cannot_escape_results(cli):
    for bad in ("../..", "..", ".", "a/b", "/tmp/x", "x;y", ""):
        p = cli("compare", *SMALL, "--name", bad, "--no-report", check=False)
        assert p.returncode == 2, (bad, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and "--name" in lines[0] and "plain name" in lines[0], p.stderr


def test_option_abbreviation_is_off(cli, tmp_path):
    # `--outp 8` must not be taken as `--output 8` (serve's --out is an option of its own since it writes a folder).
    p = cli("serve", "--chip", "h100-sxm", "--model", TINY, "--outp", "8", check=False)
    assert p.returncode == 2 and "unrecognised option '--outp'" in p.stderr, p.stderr
    for cmd in (["run", "--chip", "h100-sxm", "--model", TINY, "--phase", "decode", "--bat", "4"],
                ["validate", "--dat", "x.csv"],
                ["kernel", "gemm", "--m", "64", "--n", "64", "--k", "64", "--form", "json"]):
        p = cli(*cmd, check=False)
        assert p.returncode == 2, (cmd, p.stdout, p.stderr)
    # `--t 8` is never `--tp 8` (issue 13), in every subcommand that takes a layout or a system.
    for cmd in (["run", "--system", "hgx-h100x8", "--model", TINY], ["serve", "--system", "hgx-h100x8", "--model", TINY],
                ["compare", "--chips", "hgx-h100x8", "--model", TINY, "--out", str(tmp_path / "c")],
                ["kernel", "allreduce", "--system", "hgx-h100x8"], ["validate"]):
        p = cli(*cmd, "--t", "8", check=False)
        assert p.returncode == 2 and "'--t'" in p.stderr and len(p.stderr.strip().splitlines()) == 1, (cmd, p.stderr)
    assert not (tmp_path / "c").exists()


def test_option_abbreviation_is_off_in_python_commands(cli, tmp_path):
    # The sweep (argparse) took `--qui` for `--quiet` and `--no-rep` for `--no-report`; argparse guesses
    # unless told not to. The same for the report and trace converters a user runs by hand.
    import subprocess
    import sys
    spec = os.path.join(ROOT, "scripts", "studies", "batch_tpot_per_chip.yaml")
    for args in (["--qui", spec], ["--no-rep", spec], ["--jo", "1", spec]):
        p = cli("sweep", *args, "--out", str(tmp_path / "s"), check=False)
        assert p.returncode == 2 and "unrecognized arguments: %s" % args[0] in p.stderr, (args, p.stderr)
        assert not (tmp_path / "s").exists()
    env = dict(os.environ, PYTHONPATH=os.path.join(os.environ.get("XPUSIM_BUILD", os.path.join(ROOT, "build")),
                                                   "python"))
    for argv in ([sys.executable, "-m", "xpusim.perfetto", "t.h5", "o.json", "--max-ev", "5"],
                 [sys.executable, os.path.join(ROOT, "scripts", "compare_report.py"), str(tmp_path), "--qui"]):
        p = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=str(tmp_path))
        assert p.returncode == 2 and "unrecognized arguments: %s" % argv[-2 if "--max-ev" in argv else -1] in p.stderr, \
            (argv, p.stderr)
