"""nerfspec.cpu: the one reader of /proc/cpuinfo."""

import platform

import pytest

from nerfspec import cpu

X86 = ("processor\t: 0", "model name\t: AMD EPYC 7B13", "flags\t\t: fpu sse2 avx2 avx512_bf16", "",
       "processor\t: 1", "model name\t: AMD EPYC 7B13", "flags\t\t: fpu sse2 avx2 avx512_bf16", "")
ARM = ("processor\t: 0", "Features\t: fp asimd bf16", "CPU part\t: 0xd0c", "")


@pytest.fixture
def cpuinfo(monkeypatch):
    def use(lines):
        monkeypatch.setattr(cpu, "cpuinfo_lines", lambda: lines)
        cpu.cpu_flags.cache_clear()
    yield use
    cpu.cpu_flags.cache_clear()


def test_x86_name_flags_and_bf16(cpuinfo):
    cpuinfo(X86)
    assert cpu.cpu_name() == "AMD EPYC 7B13"
    assert cpu.cpu_flags() == {"fpu", "sse2", "avx2", "avx512_bf16"}
    assert cpu.cpu_has_bf16()
    assert cpu.cpu_identity() == "flags\t\t: fpu sse2 avx2 avx512_bf16\nmodel name\t: AMD EPYC 7B13\n"


def test_no_bf16_units_without_the_flag(cpuinfo):
    cpuinfo(tuple(line.replace(" avx512_bf16", "") for line in X86))
    assert not cpu.cpu_has_bf16()
    cpuinfo(tuple(line.replace("avx512_bf16", "amx_bf16") for line in X86))
    assert cpu.cpu_has_bf16()


def test_arm_features_count_as_flags(cpuinfo):
    cpuinfo(ARM)
    assert cpu.cpu_flags() == {"fp", "asimd", "bf16"}
    assert "CPU part\t: 0xd0c\n" in cpu.cpu_identity()


def test_without_cpuinfo_the_platform_names_the_cpu(cpuinfo):
    cpuinfo(())
    assert cpu.cpu_name() == (platform.processor() or platform.machine())
    assert cpu.cpu_flags() == frozenset() and not cpu.cpu_has_bf16() and cpu.cpu_identity() == ""


def test_this_machine_is_read():
    cpu.cpuinfo_lines.cache_clear()
    assert isinstance(cpu.cpu_name(), str) and cpu.cpu_name()
    try:
        text = open(cpu.CPUINFO).read()
    except OSError:
        pytest.skip("no /proc/cpuinfo here")
    assert cpu.cpuinfo_lines() == tuple(text.splitlines())
