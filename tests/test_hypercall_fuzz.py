"""Hostile hypercall arguments: every hypercall, random sub-ops and arguments, made on a
booted guest's vCPU. Nothing may escape as a Python exception, and every result must be
success or one of Xen's errno values (Xen's rule: a bad guest gets an errno)."""
import pytest
import os

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conftest import kernel
from hvcore import hypercalls
from hvcore.hypercalls import NO_RESULT
from hvcore.public import errno as E
from loaders.elf import load_kernel
from loaders.pv_builder import build_pv_domain

# values that hit edges: pointers into the guest, into Xen's area, unmapped, huge
_INTERESTING = [0, 1, 2, 3, 4, 7, 8, 13, 31, 32, 64, 255, 256, 4095, 4096, 0x7FF0, 0x7FFF,
                0xFFFF, 0xFFFFFFFF, 0x80000000, 1 << 63, (1 << 64) - 1,
                0xFFFF800000000000, 0xFFFF808000000000, 0xFFFFFFFF80000000,
                0xFFFFFFFF80001000, 0xFFFFFFFF80400000, 0xC0000000, 0xC0001000, 0xF5800000]
_args = st.one_of(st.sampled_from(_INTERESTING), st.integers(0, (1 << 64) - 1))
# iret and the shutdown/block sub-ops end or park the guest: fuzz them on fresh domains
_NUMBERS = sorted(n for n in range(64) if n != 23)
# a suite must not pass or fail by chance: HV_FUZZ_EXPLORE=1 draws new examples
SAME_EXAMPLES_EVERY_RUN = not os.environ.get("HV_FUZZ_EXPLORE")


@pytest.fixture(scope="module", params=["pv64", "pv32"])
def vcpu(request, guests):
    hypercalls.load_families()
    dom = build_pv_domain(load_kernel(str(kernel(request.param, "hello"))), 16, "", 1,
                          "fuzz", lambda data: None)
    yield dom.vcpus[0]
    dom.destroy()


def _valid(result) -> bool:
    if result is NO_RESULT:
        return True
    assert isinstance(result, int), result
    return result >= 0 or -result in E.ALL


@settings(max_examples=3000, deadline=None, derandomize=SAME_EXAMPLES_EVERY_RUN,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nr=st.sampled_from(_NUMBERS), args=st.tuples(_args, _args, _args, _args, _args))
def test_any_hypercall_gives_success_or_xen_errno(vcpu, nr, args):
    mask = (1 << 64) - 1 if vcpu.is_64bit else 0xFFFFFFFF
    args = tuple(a & mask for a in args)
    result = hypercalls.call(vcpu, nr, args)
    assert _valid(result), (nr, [hex(a) for a in args], result)


# ---- from inside a running guest, on a real host next to a bystander ----------------
# guests/kernels/fuzz.c makes the calls through its hypercall page; hypothesis picks the
# seed its PRNG expands into numbers, sub-ops and arguments, the ABI and which hypercall
# numbers may be drawn. Budget: FUZZ_BOOTS guests of FUZZ_CALLS calls (~2 s each).
# The same seeds every run unless HV_FUZZ_EXPLORE is set; no shrinking (each example boots a guest): a failure names its seed, abi and
# families, which `hv run .../fuzz.elf --cmdline "seed=S count=400 families=F"` replays.
FUZZ_BOOTS, FUZZ_CALLS = 10, 400
_ALL = (1 << 56) - 1
_families = st.sampled_from([_ALL, _ALL & ~((1 << 29) | (1 << 6)),      # all, or
                             (1 << 1) | (1 << 14) | (1 << 26),         # the MMU only,
                             (1 << 20) | (1 << 32) | (1 << 12),        # grants, events, memory,
                             (1 << 13) | (1 << 24) | (1 << 33) | (1 << 17)])  # multicall, vcpu...


def test_hypercalls_from_inside_guests_next_to_a_bystander(tmp_path, guests):
    import json
    import re
    import time

    from conftest import run_hv
    from reliability import record
    from test_toolstack_cli import _ready, _wait_gone

    env = {"HV_STATE_DIR": str(tmp_path / "state")}
    hv = lambda *a, **kw: run_hv(*a, env=env, **kw)
    state = tmp_path / "state"
    assert hv("up").code == 0
    calls = {"n": 0, "ok": 0, "err": 0, "boots": 0, "guest_crashes": 0}
    try:
        cfg = tmp_path / "bystander.cfg"
        cfg.write_text(f'name = "bystander"\nkernel = "{kernel("pv32", "echo")}"\nmemory = 32\n')
        assert hv("create", cfg).code == 0
        _ready(hv, tmp_path, 1, "echo: ready")

        @settings(max_examples=FUZZ_BOOTS, deadline=None, database=None,
                  derandomize=SAME_EXAMPLES_EVERY_RUN,
                  phases=(Phase.explicit, Phase.generate),
                  suppress_health_check=list(HealthCheck))
        @given(seed=st.integers(0, 2**32 - 1), abi=st.sampled_from(["pv64", "pv32"]),
               families=_families)
        def boot_one(seed, abi, families):
            calls["boots"] += 1
            domid = calls["boots"] + 1
            name = f"fuzz{domid}"
            path = tmp_path / f"{name}.cfg"
            path.write_text(f'name = "{name}"\nkernel = "{kernel(abi, "fuzz")}"\nmemory = 32\n'
                            f'extra = "seed={seed} count={FUZZ_CALLS} families={families}"\n'
                            'on_crash = "destroy"\n')
            assert hv("create", path).code == 0
            log_path = state / f"d{domid}.log"
            try:
                _wait_gone(hv, name, limit=90)
            except AssertionError:
                log = log_path.read_bytes().decode(errors="replace")
                raise AssertionError(f"fuzz guest seed={seed} {abi} families={families} still "
                                     f"running after 90 s; its console:\n{log[-1500:]}") from None
            log = log_path.read_bytes().decode(errors="replace")
            dmesg = hv("dmesg").stdout
            assert "INVALID" not in log, log
            assert f"d{domid} ({name}) died" not in dmesg, dmesg[-2000:]   # a hypervisor bug
            assert "Traceback" not in dmesg and "hypervisor bug" not in dmesg, dmesg[-3000:]
            summary = re.search(r"fuzz: (\d+) calls over \d+ hypercall numbers: (\d+) "
                                r"succeeded, (\d+) refused with Xen errnos, 0 invalid", log)
            if summary is None:         # the guest did itself in (allowed): a guest crash
                assert f"d{domid} ({name}) crash" in dmesg, (seed, abi, log[-2000:])
                calls["guest_crashes"] += 1
                return
            assert f"d{domid} ({name}) poweroff" in dmesg
            calls["n"] += int(summary[1])
            calls["ok"] += int(summary[2])
            calls["err"] += int(summary[3])

        boot_one()
        # the bystander never noticed
        console = hv("console", "bystander", input="after the fuzz\nquit\n", timeout=30)
        assert "echo: after the fuzz" in console.stdout and "echo: PASS" in console.stdout
        assert [d["name"] for d in json.loads(hv("list", "-l").stdout)] == []
    finally:
        hv("down")
    assert calls["n"] >= FUZZ_CALLS * FUZZ_BOOTS // 2, calls     # most guests finished
    record("fuzz", "inside-guests", boots=calls["boots"], calls=calls["n"],
           succeeded=calls["ok"], errnos=calls["err"], guest_self_crashes=calls["guest_crashes"],
           in_process_examples_per_abi=3000)
