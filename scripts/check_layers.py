#!/usr/bin/env python3
"""Checks the shape of the source tree (shared/STYLE.md, the structure issue); run as the `layers` test.

1. Includes point one way: each folder may include only the layers listed for it below.
   A lowering sees its own family's spec and instruction set, never a chip module; a family never
   includes another family; nothing below sim/app includes sim/app.
2. No non-test function is longer than MAX_FUNCTION_LINES.
3. sim/app (argument parsing, bindings, printing) stays under MAX_APP_LINES lines of C++.
4. The SystemC kernel is started only by run_kernel (sim/engine/process_guard.cpp), which hands
   AddressSanitizer the thread's stack back after every run: a bare sc_start anywhere else, tests
   included, is refused (a test that ran one left LeakSanitizer a freed coroutine's stack to scan at
   exit, and its tracer died on the unmapped page).
Prints one line per violation and exits 1 if there is any.
"""
import os
import re
import sys

MAX_FUNCTION_LINES = 120
MAX_APP_LINES = 1500
FAMILIES = ("gpu", "tpu", "trainium", "maia")
# Functions still over the limit, being split into strategies and builders (the structure issue). The
# list may only shrink: an entry that is no longer too long is itself reported, so it gets removed.
KNOWN_LONG = set()
BELOW_CHIPS = ["sim/base", "sim/engine", "sim/memory", "sim/interconnect", "sim/power", "sim/cost"]
BELOW_RUN = BELOW_CHIPS + ["workloads", "kernels", "chips", "sim/system"]

# Folder prefix -> folders (prefixes) it may include. The longest matching prefix wins.
ALLOWED = {
    "sim/base": ["sim/base"],
    "workloads": ["sim/base", "workloads"],
    "sim/engine": ["sim/base", "sim/engine"],
    "sim/memory": ["sim/base", "sim/engine", "sim/memory"],
    "sim/interconnect": ["sim/base", "sim/engine", "sim/memory", "sim/interconnect"],
    "sim/power": ["sim/base", "sim/power"],
    "sim/cost": ["sim/base", "sim/cost"],
    "kernels/common": ["sim/base", "workloads", "kernels/common"],
    "kernels/reference": ["sim/base", "workloads", "kernels/common", "kernels/reference"],
    # Collective lowerings see the pure system description (topology, programs) of sim/interconnect.
    "kernels/collective": ["sim/base", "sim/interconnect/system_spec.h", "sim/interconnect/topology.h",
                           "sim/interconnect/comm_program.h", "kernels/collective"],
    "sim/system": BELOW_CHIPS + ["kernels/collective", "sim/system"],
    "sim/run": BELOW_RUN + ["sim/run"],
    "sim/serve": BELOW_RUN + ["sim/run", "sim/serve"],
    "sim/validation": BELOW_RUN + ["sim/run", "sim/serve", "sim/validation"],
    "sim/io": BELOW_RUN + ["sim/run", "sim/serve", "sim/validation", "sim/io"],
    "sim/app": None,  # the one layer that sees everything
    "tests": None,
    "scripts": None,
}


def family_rules(path):
    """Rules for chips/<fam>/ and the lowerings of <fam> (kernels/<op>/<fam>.*, kernels/<fam>_*)."""
    parts = path.split("/")
    if parts[0] == "chips" and len(parts) > 2:
        fam = parts[1]
        return fam, BELOW_CHIPS + ["workloads", "chips/%s/" % fam]
    if parts[0] == "kernels":
        stem = os.path.splitext(parts[-1])[0]
        for fam in FAMILIES:
            if (len(parts) == 3 and stem == fam) or (len(parts) == 2 and stem.startswith(fam + "_")):
                spec_headers = ["chips/%s/%s_spec.h" % (fam, fam), "chips/%s/isa.h" % fam]
                own = ["kernels/%s_" % fam] + ["kernels/%s/%s." % (d, fam) for d in os.listdir("kernels")]
                return fam, ["sim/base", "workloads", "kernels/common"] + spec_headers + own
    return None, None


def allowed_for(path):
    fam, rules = family_rules(path)
    if rules is not None:
        return rules
    best = None
    for prefix in ALLOWED:
        if path.startswith(prefix + "/") and (best is None or len(prefix) > len(best)):
            best = prefix
    return ALLOWED[best] if best else None


INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def check_includes(files):
    errors = []
    for f in files:
        allowed = allowed_for(f)
        if allowed is None:
            continue
        for n, line in enumerate(open(f, encoding="utf-8", errors="replace"), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            inc = m.group(1)
            if not any(inc == a or inc.startswith(a if a.endswith(("/", "_", ".")) else a + "/") for a in allowed):
                errors.append("%s:%d: includes %s, which its layer may not see (allowed: %s)"
                              % (f, n, inc, ", ".join(allowed)))
    return errors


FUNC_START = re.compile(r"^[A-Za-z_][\w:<>,\s\*&~\[\]]*\b([\w:~]+)\s*\([^;]*$")


def function_lengths(path):
    """Yields (name, first line, length) of each top-level or class-level function body in a C++ file."""
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    depth = 0
    start = None
    name = None
    header = ""
    for i, raw in enumerate(lines):
        line = re.sub(r'"(\\.|[^"\\])*"', '""', raw.split("//")[0])
        line = re.sub(r"'(\\.|[^'\\])*'", "''", line)
        if start is None and depth <= 2:
            header = (header + " " + line.strip())[-400:] if line.strip() else header
        opens, closes = line.count("{"), line.count("}")
        if start is None and opens and re.search(r"\)\s*(const)?\s*(override)?\s*(noexcept)?\s*(->\s*[\w:<>]+)?\s*\{", header) \
                and not re.search(r"\b(namespace|class|struct|enum|union)\b[^()]*\{\s*$", line) \
                and not re.search(r"=\s*\[", header.split(";")[-1]):
            m = re.search(r"([\w:~]+)\s*\([^()]*(\([^()]*\)[^()]*)*\)\s*(const)?\s*(override)?[^;{]*\{[^{]*$", header)
            if m and m.group(1) not in ("if", "for", "while", "switch", "catch", "return", "sizeof"):
                start, name, base_depth = i, m.group(1), depth
        depth += opens - closes
        if start is not None and depth <= base_depth:
            yield name, start + 1, i - start + 1
            start = None
        if start is None and (";" in line or "}" in line or "{" in line):
            header = ""


SC_START = re.compile(r"\bsc_start\s*\(")
SC_START_HOME = "sim/engine/process_guard.cpp"


def check_kernel_starts(files):
    errors = []
    for f in files:
        if f == SC_START_HOME:
            continue
        for n, line in enumerate(open(f, encoding="utf-8", errors="replace"), 1):
            if SC_START.search(line.split("//")[0]):
                errors.append("%s:%d: starts the SystemC kernel with a bare sc_start (use run_kernel, %s)"
                              % (f, n, SC_START_HOME))
    return errors


def main(root):
    os.chdir(root)
    files = []
    for top in ("sim", "chips", "kernels", "workloads", "tests"):
        for d, _, names in os.walk(top):
            files += [os.path.join(d, n) for n in names if n.endswith((".h", ".cpp"))]
    files.sort()
    errors = check_includes(files) + check_kernel_starts(files)
    still_long = set()
    for f in files:
        if f.startswith("tests/"):
            continue
        for name, line, length in function_lengths(f):
            if length <= MAX_FUNCTION_LINES:
                continue
            if (f, name) in KNOWN_LONG:
                still_long.add((f, name))
                continue
            errors.append("%s:%d: function %s is %d lines (at most %d: a strategy is hiding inside it)"
                          % (f, line, name, length, MAX_FUNCTION_LINES))
    for f, name in sorted(k for k in KNOWN_LONG - still_long if k[0] in files):
        errors.append("%s: %s is no longer over %d lines: remove it from KNOWN_LONG" % (f, name, MAX_FUNCTION_LINES))
    app = sum(sum(1 for _ in open(f)) for f in files if f.startswith("sim/app/"))
    if app > MAX_APP_LINES:
        errors.append("sim/app: %d lines of C++ (at most %d: it only parses, binds and prints)" % (app, MAX_APP_LINES))
    for e in errors:
        print(e)
    print("check_layers: %d files, %d problems" % (len(files), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help"):
        print("usage: check_layers.py [ROOT]\n\n" + (__doc__ or "").strip() + "\n\nROOT: the source tree (default: this script's "
              "project). Prints each problem and a count; exit status 1 when there is any.")
        sys.exit(0)
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")))
