"""build_bd.tcl of each board family runs under tclsh with the Vivado commands stubbed: it must parse, use only
variables it sets, wire PS + DMA + core (or the harness), and stop with an error where it should."""

import shutil

import pytest
from tclstubs import calls, run_tcl, vivado_stubs, write_stub

from jpq2hw.synth.words import HARNESS_EXPECTED, HARNESS_INPUTS

pytestmark = pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh not installed")


def exported(out):
    """Pretend the HLS IP export ran (build_bd.tcl refuses to start without it)."""
    ip = out / "board" / "myproject_axis_prj" / "solution1" / "impl" / "ip"
    ip.mkdir(parents=True)
    (ip / "component.xml").write_text("<component/>")
    return out


def run_bd(out, tmp_path, env=None, board_part=""):
    stub = write_stub(tmp_path / "vivado_stubs.tcl", vivado_stubs(board_part))
    return run_tcl(stub, out / "board" / "build_bd.tcl", out / "board", env)


def test_zynq7000_block_design(build_copy, tmp_path):
    out = exported(build_copy())
    ran = run_bd(out, tmp_path)
    assert ran.returncode == 0, ran.stderr
    c = calls(ran.stdout)
    text = ran.stdout
    assert ["create_project", f"-force jpq2hw_bd_prj {out}/board/vivado_prj -part xc7z020clg400-1"] in c
    assert "create_bd_cell -type ip -vlnv xilinx.com:ip:processing_system7 ps7" in text
    assert "create_bd_cell -type ip -vlnv jpq2hw:hls4ml:myproject_axis:1.0 myproject_axis_0" in text
    assert "CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ 100}" in text and "CONFIG.PCW_USE_S_AXI_HP0 1" in text
    # DMA stream widths are the core's word widths (8 in, 16 out for sparse_mlp); memory side at least 32.
    assert "CONFIG.c_m_axis_mm2s_tdata_width 8 " in text and "CONFIG.c_s_axis_s2mm_tdata_width 16 " in text
    assert "CONFIG.c_m_axi_mm2s_data_width 32 " in text and "CONFIG.c_addr_width 32 " in text
    assert "CONFIG.c_include_sg 0 " in text
    assert "Master /ps7/M_AXI_GP0 Slave /axi_dma/S_AXI_LITE" in text and "Slave /ps7/S_AXI_HP0" in text
    assert ["connect_bd_net", "ps7/FCLK_CLK0 myproject_axis_0/ap_clk"] not in c  # goes through get_bd_pins
    assert "CALL get_bd_pins /rst_ps_100M/peripheral_aresetn" in text
    assert "apply_board_preset 0" in text  # no board files here: the bare part
    commands = [x[0] for x in c]
    assert commands.index("validate_bd_design") < commands.index("launch_runs") < commands.index("open_run")
    overlay = out / "board" / "overlay"
    assert (overlay / "myproject_axis.bit").is_file() and (overlay / "myproject_axis.hwh").is_file()
    assert "worst setup slack 0.25 ns" in text


def test_board_part_is_used_when_installed(build_copy, tmp_path):
    out = exported(build_copy())
    ran = run_bd(out, tmp_path, board_part="tul.com.tw:pynq-z2:part0:1.0")
    assert ran.returncode == 0, ran.stderr
    assert "CALL set_property board_part tul.com.tw:pynq-z2:part0:1.0" in ran.stdout
    assert "apply_board_preset 1" in ran.stdout


def test_bd_stage_stops_before_implementation(build_copy, tmp_path):
    out = exported(build_copy())
    ran = run_bd(out, tmp_path, env={"BD_STAGE": "bd"})
    assert ran.returncode == 0, ran.stderr
    assert "save_bd_design" in ran.stdout and "launch_runs" not in ran.stdout
    assert run_bd(out, tmp_path, env={"BD_STAGE": "everything"}).returncode == 1


@pytest.mark.parametrize("board, ps_cell", [("kv260", "zynq_ultra_ps_e ps8"), ("ultra96-v2", "zynq_ultra_ps_e ps8"),
                                            ("zcu104", "zynq_ultra_ps_e ps8")])
def test_zynquplus_block_design(build_copy, tmp_path, board, ps_cell):
    out = exported(build_copy(board))
    ran = run_bd(out, tmp_path)
    assert ran.returncode == 0, ran.stderr
    text = ran.stdout
    assert f"xilinx.com:ip:{ps_cell}" in text and "processing_system7" not in text
    assert "CONFIG.PSU__USE__M_AXI_GP1 0 " in text and "CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ 100}" in text
    assert "Master /ps8/M_AXI_HPM0_FPD" in text and "Slave /ps8/S_AXI_HPC0_FPD" in text
    assert "CONFIG.c_addr_width 64 " in text
    assert (out / "board" / "overlay" / "myproject_axis.hwh").is_file()
    assert (out / "board" / "driver" / "jpq2hw_driver.py").is_file()


def test_stream_harness_without_processor(build_copy, tmp_path):
    out = exported(build_copy("arty-a7-100t"))
    board = out / "board"
    assert not (board / "driver").exists()  # no PYNQ on the Arty
    ran = run_bd(out, tmp_path)
    assert ran.returncode == 1 and HARNESS_INPUTS in ran.stderr  # the ROMs come from `jpq2hw synth`
    (board / "harness" / HARNESS_INPUTS).write_text("01\n" * 16 * 3)
    (board / "harness" / HARNESS_EXPECTED).write_text("0000\n" * 10 * 3)
    ran = run_bd(out, tmp_path)
    assert ran.returncode == 0, ran.stderr
    text = ran.stdout
    assert "processing_system7" not in text and "zynq_ultra_ps_e" not in text and "microblaze" not in text.lower()
    assert "create_bd_cell -type module -reference jpq2hw_harness harness" in text
    assert "CALL set_property CONFIG.N_VECTORS 3 /harness" in text
    assert "CONFIG.CLKOUT1_REQUESTED_OUT_FREQ 100 " in text
    assert "add_files -fileset constrs_1" in text
    xdc = (board / "harness" / "board.xdc").read_text()
    assert "PACKAGE_PIN E3" in xdc and "get_ports {led[3]}" in xdc
    assert (board / "overlay" / "myproject_axis.bit").is_file()
    # A ROM that is not a whole number of vectors is refused.
    (board / "harness" / HARNESS_INPUTS).write_text("01\n" * 17)
    assert run_bd(out, tmp_path).returncode == 1


def test_errors_are_caught(build_copy, tmp_path):
    out = build_copy()
    ran = run_bd(out, tmp_path)  # IP not exported yet
    assert ran.returncode == 1 and "no exported IP" in ran.stderr
    exported(out)
    tcl = out / "board" / "build_bd.tcl"
    original = tcl.read_text()
    assert run_bd(out, tmp_path).returncode == 0
    tcl.write_text(original.replace("set ps_slave ", "set no_ps_slave "))  # a missing variable must fail
    assert run_bd(out, tmp_path).returncode == 1
    tcl.write_text(original.replace("connect_bd_intf_net $core_out", "connect_bd_intf_net {$core_out"))
    assert run_bd(out, tmp_path).returncode == 1  # unbalanced brace: a syntax error must fail
