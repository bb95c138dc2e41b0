"""scripts/check_layers.py (the `layers` test) catches what it is meant to catch, on a made-up tree."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECK = os.path.join(ROOT, "scripts", "check_layers.py")


def write(root, path, text):
    p = root / path
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


def check(root):
    p = subprocess.run([sys.executable, CHECK, str(root)], capture_output=True, text=True)
    return p.returncode, p.stdout


def test_clean_tree_passes(tmp_path):
    write(tmp_path, "kernels/rowwise/gpu.cpp", '#include "chips/gpu/gpu_spec.h"\n#include "kernels/common/lowering.h"\n')
    write(tmp_path, "sim/run/x.cpp", '#include "chips/gpu/gpu_chip.h"\n#include "sim/base/units.h"\n')
    rc, out = check(tmp_path)
    assert rc == 0, out


def test_wrong_direction_includes_are_reported(tmp_path):
    write(tmp_path, "kernels/gemm/gpu.cpp", '#include "chips/gpu/gpu_chip.h"\n')      # a lowering sees a chip module
    write(tmp_path, "kernels/gemm/tpu.cpp", '#include "chips/gpu/gpu_spec.h"\n')      # another family's spec
    write(tmp_path, "chips/tpu/tpu_chip.cpp", '#include "chips/gpu/gpu_spec.h"\n')    # a family sees another family
    write(tmp_path, "sim/base/units.cpp", '#include "sim/engine/chip.h"\n')           # base sees engine
    write(tmp_path, "sim/io/output.cpp", '#include "sim/app/commands.h"\n')           # io sees app
    write(tmp_path, "workloads/graph.cpp", '#include "sim/engine/chip.h"\n')          # workloads sees SystemC glue
    rc, out = check(tmp_path)
    assert rc == 1
    for f in ("kernels/gemm/gpu.cpp", "kernels/gemm/tpu.cpp", "chips/tpu/tpu_chip.cpp", "sim/base/units.cpp",
              "sim/io/output.cpp", "workloads/graph.cpp"):
        assert f + ":1: includes" in out, (f, out)


def test_long_functions_and_a_fat_app_are_reported(tmp_path):
    body = "\n".join("  x += %d;" % i for i in range(130))
    write(tmp_path, "sim/run/long.cpp", "int too_long(int x) {\n%s\n  return x;\n}\n" % body)
    write(tmp_path, "tests/unit/long_test.cpp", "int fine_in_tests(int x) {\n%s\n  return x;\n}\n" % body)
    write(tmp_path, "sim/app/fat.cpp", "\n" * 1600)
    rc, out = check(tmp_path)
    assert rc == 1
    assert "function too_long is 133 lines" in out
    assert "fine_in_tests" not in out
    assert "sim/app: 1600 lines" in out
