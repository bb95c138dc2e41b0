#!/usr/bin/env python3
"""Writes scripts/tutorial.ipynb from scripts/tutorial.py ("# %%" cells; "# %% [markdown]" cells
become markdown). Run after editing the tutorial: /usr/bin/python3 scripts/tutorial_notebook.py"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def cells(source):
    out, kind, lines = [], None, []
    for line in source.splitlines():
        if line.startswith("# %%"):
            if kind is not None and any(l.strip() for l in lines):
                out.append((kind, lines))
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
            continue
        if kind == "markdown":
            line = line[2:] if line.startswith("# ") else line.lstrip("#")
        if kind is not None:
            lines.append(line)
    if kind is not None and any(l.strip() for l in lines):
        out.append((kind, lines))
    return out


def notebook(source):
    nb_cells = []
    for kind, lines in cells(source):
        text = "\n".join(lines).strip("\n")
        cell = {"cell_type": kind, "metadata": {}, "source": [l + "\n" for l in text.split("\n")]}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        nb_cells.append(cell)
    return {"cells": nb_cells, "metadata": {"kernelspec": {"display_name": "Python 3 (Debian)", "language": "python",
                                                           "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


if __name__ == "__main__":
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print("usage: tutorial_notebook.py\n\n" + __doc__.strip())
        sys.exit(0)
    src = open(os.path.join(HERE, "tutorial.py")).read()
    dst = os.path.join(HERE, "tutorial.ipynb")
    tmp = dst + ".tmp"
    with open(tmp, "w") as f:
        json.dump(notebook(src), f, indent=1)
        f.write("\n")
    os.replace(tmp, dst)
    print("wrote", dst, file=sys.stderr)
