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
