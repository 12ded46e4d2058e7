"""synthesise() writes its names into a Yosys script: only Verilog identifiers and numbers
get there (Yosys runs a line starting with '!' in a shell).  No Yosys needed: the checks
run before it is looked for."""

from __future__ import annotations

import os

import pytest

from lowbit.hwmodel.synth import fp_multiplier_verilog, int_multiplier_verilog, synthesise


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"top": "mul\n!touch YOSYS_SHELL"}, "top 'mul\\\\n!touch YOSYS_SHELL'"),
        ({"top": "mul; !touch YOSYS_SHELL"}, "Verilog identifier"),
        ({"top": ""}, "Verilog identifier"),
        ({"top": 3}, "Verilog identifier"),
        ({"evals": [{"a\n!touch YOSYS_SHELL": 1}]}, "evals key"),
        ({"evals": [{"a": "1\n!touch YOSYS_SHELL"}]}, "evals\\['a'\\]"),
        ({"evals": [{"a": -1}]}, "non-negative int"),
        ({"evals": [{"a": True}]}, "non-negative int"),
        ({"evals": [{"a": 1.5}]}, "non-negative int"),
        ({"evals": ["a=1"]}, "dicts"),
        ({"evals": {"a": 1}}, "list of dicts"),
        ({"show": ("p\n!touch YOSYS_SHELL",)}, "show"),
    ],
)
def test_script_injection_is_refused(tmp_path, monkeypatch, kwargs, needle):
    monkeypatch.chdir(tmp_path)  # Yosys' shell would run here
    args = {"top": "mul", **kwargs}
    with pytest.raises(ValueError, match=needle):
        synthesise(int_multiplier_verilog(2), **args)
    assert not os.path.exists(tmp_path / "YOSYS_SHELL")
    assert os.listdir(tmp_path) == []


def test_verilog_generators_refuse_bad_module_names():
    with pytest.raises(ValueError, match="Verilog identifier"):
        int_multiplier_verilog(2, top="m(); endmodule")
    with pytest.raises(ValueError, match="Verilog identifier"):
        fp_multiplier_verilog("fp8_e4m3fnuz", top="f x")
    assert int_multiplier_verilog(2, top="mul_2").startswith("module mul_2(")
