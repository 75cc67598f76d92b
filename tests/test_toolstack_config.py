"""Domain configuration files (xl.cfg syntax) for `hv create` / `hv run`.

Every test writes real files into a temporary folder and runs from there, so an
error names the config as the user typed it (`web.cfg:7: ...`)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from hvcore.toolstack import (ConfigError, DiskSpec, device_number, load_config,
                              parse_disk_spec, parse_vif_spec, random_xen_mac)
from hvcore.toolstack.cfgparse import Atom, ListValue, parse_text
from hvcore.toolstack.errors import SpecError

FULL = """\
# a web server
name = "web"
type = 'pv'
kernel = "vmlinuz"              # relative: next to this file
ramdisk = 'initrd.img'
root = "/dev/xvda1"; extra = 'console=hvc0 quiet'
memory = 0x100
maxmem = 512
vcpus = 2
maxvcpus = 4
on_poweroff = "preserve"
on_reboot = "rename-restart"
on_crash = "coredump-restart"
disk = [ 'web.img,raw,xvda,rw',
         'format=raw, vdev=xvdb, access=ro, target=data.img',
         'data.img,,hdc,cdrom',
]
vif = [ 'mac=00:16:3E:74:3d:76,bridge=hvbr1,ip=10.0.0.2',
        '' ]
serial = "pty"
uuid = "6D3E2D58-3B0C-4A31-9F1E-0123456789AB"
"""


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    """A folder holding a kernel, an initrd and two disk images; also the cwd."""
    (tmp_path / "vmlinuz").write_bytes(b"\x7fELF kernel")
    (tmp_path / "initrd.img").write_bytes(b"initrd")
    for image in ("web.img", "data.img"):
        (tmp_path / image).write_bytes(bytes(4096))
    (tmp_path / "adir").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(folder: Path, text: str, name: str = "web.cfg") -> str:
    (folder / name).write_text(text)
    return name


def error_of(path: str, *overrides: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, overrides)
    message = str(caught.value)
    assert "\n" not in message
    return message


MINIMAL = 'name = "web"\nkernel = "vmlinuz"\n'


# --- a full config, defaults, xl's rules ---------------------------------------------

def test_full_config(folder):
    config = load_config(write(folder, FULL))
    assert config.name == "web" and config.type == "pv"
    assert config.kernel == folder / "vmlinuz"
    assert config.ramdisk == folder / "initrd.img"
    assert config.cmdline == "root=/dev/xvda1 console=hvc0 quiet"
    assert (config.root, config.extra) == ("/dev/xvda1", "console=hvc0 quiet")
    assert (config.memory, config.maxmem, config.vcpus, config.maxvcpus) == (256, 512, 2, 4)
    assert (config.on_poweroff, config.on_reboot, config.on_crash) == \
        ("preserve", "rename-restart", "coredump-restart")
    assert (config.on_watchdog, config.on_soft_reset) == ("destroy", "soft-reset")
    web, data, cdrom = config.disk
    assert web == DiskSpec(target=folder / "web.img", vdev="xvda", devid=51712)
    assert (data.target, data.vdev, data.devid, data.access, data.readonly) == \
        (folder / "data.img", "xvdb", 51728, "ro", True)
    assert cdrom.is_cdrom and cdrom.readonly and cdrom.vdev == "hdc"
    first, second = config.vif
    assert (first.mac, first.bridge, first.ip, first.mac_generated) == \
        ("00:16:3e:74:3d:76", "hvbr1", "10.0.0.2", False)
    assert second.mac_generated and second.bridge == "hvbr0" and second.type == "vif"
    assert config.serial == ("pty",)
    assert config.uuid == "6d3e2d58-3b0c-4a31-9f1e-0123456789ab"
    assert config.source == Path("web.cfg") and config.warnings == ()


def test_defaults_are_xls(folder):
    config = load_config(write(folder, MINIMAL))
    # libxl: maxmem defaults to 32 MiB and memory to maxmem; one vcpu
    assert (config.memory, config.maxmem, config.vcpus, config.maxvcpus) == (32, 32, 1, 1)
    assert (config.on_poweroff, config.on_reboot, config.on_crash) == \
        ("destroy", "restart", "destroy")
    assert config.type == "pv" and config.cmdline == "" and config.ramdisk is None
    assert config.disk == () and config.vif == () and config.uuid is None


@pytest.mark.parametrize("settings, memory, maxmem", [
    ("memory = 128", 128, 128),          # maxmem follows memory
    ("maxmem = 512", 512, 512),          # memory follows maxmem
    ("memory = 128\nmaxmem = 512", 128, 512),
    ("memory = 0100", 64, 64),           # octal, as xl reads numbers
    ('memory = "96"', 96, 96),           # xl atoms are text: a quoted number works
])
def test_memory_rules(folder, settings, memory, maxmem):
    config = load_config(write(folder, MINIMAL + settings + "\n"))
    assert (config.memory, config.maxmem) == (memory, maxmem)


@pytest.mark.parametrize("settings, cmdline", [
    ('root = "/dev/xvda1"\nextra = "ro quiet"', "root=/dev/xvda1 ro quiet"),
    ('root = "/dev/xvda1"', "root=/dev/xvda1"),
    ('extra = "quiet"', "quiet"),
    ('cmdline = "console=hvc0"', "console=hvc0"),
])
def test_command_line_rule(folder, settings, cmdline):
    assert load_config(write(folder, MINIMAL + settings + "\n")).cmdline == cmdline


def test_cmdline_wins_over_root_and_extra_with_a_warning(folder):
    config = load_config(write(folder, MINIMAL + 'cmdline = "a"\nroot = "b"\n'))
    assert config.cmdline == "a"
    assert config.warnings == ("web.cfg: ignoring root= and extra= in favour of cmdline=",)


def test_builder_is_the_old_spelling_of_type(folder):
    config = load_config(write(folder, 'name = "h"\nbuilder = "hvm"\n'))
    assert config.type == "hvm" and config.kernel is None


def test_ignored_xl_keys_warn(folder):
    config = load_config(write(folder, MINIMAL + "vnc = 1\n"))
    assert config.warnings == ("web.cfg:3: hv ignores 'vnc' (an xl option it does not "
                               "implement)",)


# --- the syntax --------------------------------------------------------------------

def test_syntax_features():
    text = ("a = 1; b = 'x'  # comment\r\n"
            "c = [ 'p',\n  \"q\",\n\n  ]\n"
            "d = []\n"
            "e = [ [ 1, 2 ], 'r' ]\n"
            "f = 0x1F\n"
            "g = \"tab\\there \\\"q\\\" \\x41\\101 \\\\\"\n"
            "h = 'it\\'s'")                       # no new line at the end
    settings = {s.key: s.value for s in parse_text(text, "t.cfg")}
    assert settings["a"] == Atom("1", False, 1)
    assert settings["b"] == Atom("x", True, 1)
    assert [item.text for item in settings["c"].items] == ["p", "q"]
    assert settings["d"] == ListValue((), 6)
    nested = settings["e"].items[0]
    assert isinstance(nested, ListValue) and [i.text for i in nested.items] == ["1", "2"]
    assert settings["f"].text == "0x1F"
    assert settings["g"].text == 'tab\there "q" AA \\'
    assert settings["h"].text == "it's"


def test_list_items_remember_their_lines():
    (setting,) = parse_text("disk = [\n 'a',\n\n 'b' ]\n", "t.cfg")
    assert [item.line for item in setting.value.items] == [2, 4]


@pytest.mark.parametrize("text, message", [
    ('name = "web"\nmemory 128\n', "web.cfg:2: syntax error near '128': expected '=' after 'memory'"),
    ('name = web\n', 'web.cfg:1: syntax error near \'web\': a string value needs quotes: name = "web"'),
    ('name = "web\n', "web.cfg:1: syntax error: string starting '\"web\\n' is not closed on the same line"),
    ('\n\ndisk = [ "a",\n "b"\n', "web.cfg:5: syntax error near end of file: the list for 'disk' opened on line 3 is not closed"),
    ('disk = [ "a" "b" ]\n', "web.cfg:1: syntax error near \"b\": expected ',' or ']' in the list for 'disk'"),
    ('memory = 12.5\n', "web.cfg:1: syntax error: unexpected character '.' (hv config files are not Python)"),
    ('name = "web" "x"\n', "web.cfg:1: syntax error near \"x\": expected a new line or ';' after the value of 'name'"),
    ('name = "a\\qb"\n', "web.cfg:1: syntax error: unknown escape '\\q' in string \"a\\qb\""),
    ('= 5\n', "web.cfg:1: syntax error near '=': expected a key (KEY = VALUE)"),
    ('memory =\n', "web.cfg:1: syntax error near end of line: expected a value for 'memory'"),
])
def test_syntax_errors(folder, text, message):
    assert error_of(write(folder, text)) == message


# --- command-line overrides ------------------------------------------------------------

def test_overrides_replace_file_values(folder):
    path = write(folder, FULL)
    config = load_config(path, ["memory=300", 'vcpus=3; on_crash="destroy"',
                                "disk=[ 'web.img,,xvdc' ]"])
    assert (config.memory, config.maxmem, config.vcpus, config.on_crash) == \
        (300, 512, 3, "destroy")
    assert [d.vdev for d in config.disk] == ["xvdc"]


def test_override_paths_are_relative_to_the_current_folder(folder):
    (folder / "cfg").mkdir()
    (folder / "cfg" / "vmlinuz").write_bytes(b"kernel in cfg/")
    path = write(folder, MINIMAL, "cfg/web.cfg")
    assert load_config(path).kernel == folder / "cfg" / "vmlinuz"
    assert load_config(path, ['kernel="vmlinuz"']).kernel == folder / "vmlinuz"


@pytest.mark.parametrize("override, message", [
    ("memroy=3", "argument 'memroy=3': unknown key 'memroy' (did you mean 'memory'?)"),
    ("name=web2", "argument 'name=web2': syntax error near 'web2': a string value needs "
                  "quotes: name = \"web2\""),
    ('memory="lots"', "argument 'memory=\"lots\"': memory: expected a positive integer, "
                      "got \"lots\""),
    ("maxmem=100", "argument 'maxmem=100': maxmem: 100 is less than memory (256)"),
    ("memory=1; memory=2", "argument 'memory=1; memory=2': duplicate key 'memory' "
                           "(first set in argument 'memory=1; memory=2')"),
])
def test_override_errors(folder, override, message):
    assert error_of(write(folder, FULL), override) == message


# --- errors: one line, file, line, key ---------------------------------------------

@pytest.mark.parametrize("extra, message", [
    ("memroy = 128", "web.cfg:3: unknown key 'memroy' (did you mean 'memory'?)"),
    ("Memory = 128", "web.cfg:3: unknown key 'Memory' (did you mean 'memory'?)"),
    ("zzzzzz = 1", "web.cfg:3: unknown key 'zzzzzz'"),
    ('memory = "lots"', 'web.cfg:3: memory: expected a positive integer, got "lots"'),
    ("memory = 0", "web.cfg:3: memory: expected a positive integer, got 0"),
    ('memory = "-5"', 'web.cfg:3: memory: expected a positive integer, got "-5"'),
    ("memory = 08", "web.cfg:3: memory: expected a positive integer, got 08"),
    ("memory = [ 1 ]", "web.cfg:3: memory: expected a single value, got a list"),
    ("vcpus = 0x", "web.cfg:3: vcpus: expected a positive integer, got 0x"),
    ("memory = 128\nmaxmem = 64", "web.cfg:4: maxmem: 64 is less than memory (128)"),
    ("vcpus = 4\nmaxvcpus = 2", "web.cfg:4: maxvcpus: 2 is less than vcpus (4)"),
    ("memory = 64\nmemory = 128", "web.cfg:4: duplicate key 'memory' (first set on line 3)"),
    ('type = "xen"', 'web.cfg:3: type: "xen" is not one of pv, pvh, hvm'),
    ('on_crash = "explode"', 'web.cfg:3: on_crash: "explode" is not one of destroy, '
                             'restart, rename-restart, preserve, coredump-destroy, '
                             'coredump-restart, soft-reset'),
    ('uuid = "1234"', 'web.cfg:3: uuid: "1234" is not a UUID (8-4-4-4-12 hex digits)'),
    ('disk = "web.img,,xvda"', "web.cfg:3: disk: expected a list like [ '...' ], "
                               "got \"web.img,,xvda\""),
    ("disk = [ [ 'web.img' ] ]", "web.cfg:3: disk: expected strings in the list, "
                                 "got a nested list"),
    ('ramdisk = "adir"', "web.cfg:3: ramdisk 'adir' (ADIR) is a directory, not a file"),
])
def test_value_errors(folder, extra, message):
    message = message.replace("ADIR", str(folder / "adir"))
    assert error_of(write(folder, MINIMAL + extra + "\n")) == message


@pytest.mark.parametrize("name, problem", [
    ('""', "name: must not be empty"),
    ('"web/1"', "name: \"web/1\" contains '/' (names are xenstore path components)"),
    ('"42"', 'name: "42" is all digits (it would read as a domain id)'),
    ("42", 'name: "42" is all digits (it would read as a domain id)'),
])
def test_name_rules(folder, name, problem):
    path = write(folder, f'kernel = "vmlinuz"\nname = {name}\n')
    assert error_of(path) == f"web.cfg:2: {problem}"


def test_missing_name(folder):
    assert error_of(write(folder, 'kernel = "vmlinuz"\n')) == \
        "web.cfg: missing required key 'name'"


def test_missing_kernel_for_a_pv_guest(folder):
    assert error_of(write(folder, 'name = "web"\n')) == \
        "web.cfg: missing required key 'kernel' (a pv guest boots a kernel: hv has no " \
        "bootloader)"


def test_kernel_that_does_not_exist(folder):
    absent = folder / "x" / "y"
    assert error_of(write(folder, f'name = "web"\n\nkernel = "{absent}"\n')) == \
        f"web.cfg:3: kernel '{absent}' does not exist"
    assert error_of(write(folder, 'name = "web"\nkernel = "x/y"\n')) == \
        f"web.cfg:2: kernel 'x/y' ({folder / 'x' / 'y'}) does not exist"


def test_kernel_that_is_a_directory(folder):
    assert error_of(write(folder, 'name = "web"\nkernel = "adir"\n')) == \
        f"web.cfg:2: kernel 'adir' ({folder / 'adir'}) is a directory, not a file"


def test_file_checks_can_be_skipped(folder):
    config = load_config(write(folder, 'name = "web"\nkernel = "nope"\n'
                                       'disk = [ "nope.img,,xvda" ]\n'), check_files=False)
    assert config.kernel == folder / "nope" and config.disk[0].target == folder / "nope.img"


def test_config_file_itself(folder):
    assert error_of("absent.cfg") == "absent.cfg: no such config file"
    assert error_of("adir") == "adir: is a directory, not a config file"


def test_error_carries_its_parts(folder):
    with pytest.raises(ConfigError) as caught:
        load_config(write(folder, MINIMAL + 'memory = "lots"\n'))
    assert (caught.value.source, caught.value.line, caught.value.key) == \
        ("web.cfg", 3, "memory")


# --- disks -----------------------------------------------------------------------------

@pytest.mark.parametrize("vdev, number", [
    ("xvda", 51712), ("xvdb", 51728),            # 202 << 8 | disk << 4
    ("hda", 768), ("hdb", 832),                  # 3 << 8 | disk << 6
    ("hdc", 5632), ("hdd", 5696),                # 22 << 8 | (disk - 2) << 6
    ("sda", 2048), ("sdb", 2064), ("sdp", 2288),  # 8 << 8 | disk << 4
    ("xvdp", 51952), ("xvda1", 51713), ("xvdp15", 51967),
    ("xvdq", 1 << 28 | 16 << 8),                 # disk 16: the 1 << 28 form
    ("xvda16", 1 << 28 | 16),                    # partition 16 too
    ("xvdaa", 1 << 28 | 26 << 8),                # aa is disk 26
    ("hda63", 768 | 63),
])
def test_device_numbers(vdev, number):
    assert device_number(vdev) == number


@pytest.mark.parametrize("xvd, d_form", [
    ("xvda", "d0"), ("xvda", "d0p0"), ("xvdb2", "d1p2"), ("xvdtq37", "d536p37"),
])
def test_device_number_spellings_from_vbd_interface(xvd, d_form):
    assert device_number(xvd) == device_number(d_form)


def test_sdb3_and_hdc2_from_vbd_interface():
    assert device_number("sdb3") == 8 << 8 | 1 << 4 | 3
    assert device_number("hdc2") == 22 << 8 | 0 << 6 | 2


def test_raw_xenstore_numbers():
    assert device_number("51712") == device_number("0xca00") == 51712


@pytest.mark.parametrize("vdev, problem", [
    ("vda", "is not a disk name"),
    ("xvda0", "is not a disk name"),           # no leading zero, no partition 0
    ("hde", "hd disks go up to number 3"),
    ("sdq", "sd disks go up to number 15"),
    ("sda16", "sd partitions go up to 15"),
    ("hda64", "hd partitions go up to 63"),
    ("xvda256", "xvd partitions go up to 255"),
])
def test_bad_vdevs(vdev, problem):
    with pytest.raises(SpecError, match=re.escape(problem)):
        device_number(vdev)


def disk(folder: Path, spec: str) -> DiskSpec:
    return parse_disk_spec(spec, folder)


@pytest.mark.parametrize("spec", [
    "web.img,,xvda",
    "web.img,raw,xvda,rw",
    "web.img,raw,xvda,w",
    " web.img, raw, xvda, rw",
    "format=raw, vdev=xvda, access=rw, target=web.img",
    "vdev=xvda,target=web.img",
    "raw:WEB,xvda,w",                          # xend's deprecated prefix form
    "phy:WEB,xvda",
    "tap:aio:WEB,xvda",
])
def test_equivalent_disk_specs(folder, spec):
    spec = spec.replace("WEB", str(folder / "web.img"))
    assert disk(folder, spec) == DiskSpec(target=folder / "web.img", vdev="xvda",
                                          devid=51712)


@pytest.mark.parametrize("spec", [
    "data.img,,hdc,cdrom",
    "data.img,,hdc,,cdrom",
    "data.img,raw,hdc,devtype=cdrom",
    "format=raw, vdev=hdc, access=ro, devtype=cdrom, target=data.img",
    "raw:DATA,hdc:cdrom,ro",
])
def test_equivalent_cdrom_specs(folder, spec):
    spec = spec.replace("DATA", str(folder / "data.img"))
    assert disk(folder, spec) == DiskSpec(target=folder / "data.img", vdev="hdc",
                                          devid=5632, access="ro", devtype="cdrom")


def test_empty_cdrom_drive(folder):
    for spec in (",hdc:cdrom,r", ",,hdc,cdrom", "vdev=hdc,devtype=cdrom"):
        assert disk(folder, spec) == DiskSpec(target=None, vdev="hdc", devid=5632,
                                              access="ro", devtype="cdrom")


def test_target_keyword_takes_the_rest(folder):
    (folder / "a,b img").write_bytes(bytes(512))
    spec = disk(folder, "vdev=xvda, access=ro, target=a,b img")
    assert spec.target == folder / "a,b img" and spec.readonly


def test_disk_options(folder):
    spec = disk(folder, "web.img,,xvda,backendtype=qdisk,discard,direct-io-safe,"
                        "script=block-x,backend=dom0")
    assert (spec.backendtype, spec.discard, spec.direct_io_safe, spec.script,
            spec.backend) == ("qdisk", True, True, "block-x", "dom0")
    assert disk(folder, "web.img,,xvda,no-discard").discard is False


@pytest.mark.parametrize("spec, problem", [
    ("web.img,qcow2,xvda", "format 'qcow2' is not supported by hv (only raw)"),
    ("web.img,vmdk,xvda", "unknown format 'vmdk' (xl knows raw, qcow, qcow2, vhd, qed)"),
    ("web.img,,xvda,rx", "unknown access 'rx' (expected ro, r, rw or w)"),
    ("web.img,,hdc,rw,cdrom", "a cdrom cannot be read-write"),
    ("web.img,,xvda,ro,extra", "too many positional parameters at 'extra'"),
    ("web.img,raw", "no vdev given"),
    ("vdev=xvda", "no target given"),
    ("web.img,,xvda,vdve=xvdb", "unknown parameter 'vdve' (did you mean 'vdev'?)"),
    ("web.img,,xvda,vdev=xvdb", "vdev given twice ('xvda' and 'xvdb')"),
    ("web.img,,xvda,devtype=floppy", "unknown devtype 'floppy' (expected cdrom or disk)"),
    ("web.img,,xvda,backendtype=nfs", "unknown backendtype 'nfs'"),
    ("web.img,,xvda,colo", "'colo' is not supported by hv"),
    ("foo:/x,,xvda", "unknown deprecated prefix 'foo:'"),
    ("web.img,,vda", "vdev 'vda' is not a disk name"),
    ("adir,,xvda", "target 'adir' (ADIR) is a directory, not a file"),
    ("nope.img,,xvda", "target 'nope.img' (NOPE) does not exist"),
    ("nope.iso,,hdc,cdrom", "target 'nope.iso' (NOPE_ISO) does not exist"),
    ("/dev/null,,xvda", "target '/dev/null' is not a regular file"),
])
def test_bad_disk_specs(folder, spec, problem):
    problem = (problem.replace("ADIR", str(folder / "adir"))
               .replace("NOPE_ISO", str(folder / "nope.iso"))
               .replace("NOPE", str(folder / "nope.img")))
    with pytest.raises(SpecError) as caught:
        disk(folder, spec)
    assert problem in str(caught.value)


def test_disk_errors_name_the_item_and_its_line(folder):
    text = MINIMAL + "disk = [ 'web.img,,xvda',\n         'web.img,qcow2,xvdb' ]\n"
    assert error_of(write(folder, text)) == \
        "web.cfg:4: disk[1]: format 'qcow2' is not supported by hv (only raw)"


def test_disk_relative_targets_use_the_config_folder(folder):
    (folder / "vm").mkdir()
    (folder / "vm" / "web.img").write_bytes(bytes(512))
    (folder / "vm" / "vmlinuz").write_bytes(b"k")
    config = load_config(write(folder, MINIMAL + "disk = [ 'web.img,,xvda' ]\n",
                               "vm/web.cfg"))
    assert config.disk[0].target == folder / "vm" / "web.img"


def test_directory_and_missing_disk_targets_in_a_config(folder):
    assert error_of(write(folder, MINIMAL + "disk = [ 'adir,,xvda' ]\n")) == \
        f"web.cfg:3: disk[0]: target 'adir' ({folder / 'adir'}) is a directory, not a file"
    assert error_of(write(folder, MINIMAL + "disk = [ 'gone.img,,xvda' ]\n")) == \
        f"web.cfg:3: disk[0]: target 'gone.img' ({folder / 'gone.img'}) does not exist"


def test_one_vdev_per_disk(folder):
    text = MINIMAL + "disk = [ 'web.img,,xvda', 'data.img,,d0' ]\n"
    assert error_of(write(folder, text)) == \
        "web.cfg:3: disk[1]: vdev 'd0' is already used by disk[0]"


# --- vifs ------------------------------------------------------------------------------

XEN_MAC = re.compile(r"00:16:3e:[0-7][0-9a-f]:[0-9a-f]{2}:[0-9a-f]{2}")


def test_generated_macs_are_in_xens_oui():
    macs = {random_xen_mac() for _ in range(200)}
    assert all(XEN_MAC.fullmatch(mac) for mac in macs)
    assert len(macs) > 190                       # random, not a constant
    assert random_xen_mac(lambda n: b"\xff" * n) == "00:16:3e:7f:ff:ff"
    assert random_xen_mac(lambda n: b"\x80\x01\x02") == "00:16:3e:00:01:02"


def test_vif_without_mac_gets_one():
    vif = parse_vif_spec("", randbytes=lambda n: b"\x12\x34\x56")
    assert (vif.mac, vif.mac_generated, vif.bridge, vif.type, vif.model) == \
        ("00:16:3e:12:34:56", True, "hvbr0", "vif", None)
    assert parse_vif_spec("mac=00:00:00:00:00:00").mac_generated   # libxl's "unset"


def test_vif_keys():
    vif = parse_vif_spec("mac=00:16:3E:74:3D:76, bridge=br1, ip=10.0.0.2 10.0.0.3/24,"
                         "script=vif-route,vifname=web0,mtu=9000,rate=10Mb/s,netdev=eth0")
    assert (vif.mac, vif.bridge, vif.ip, vif.script, vif.vifname, vif.mtu, vif.rate,
            vif.gatewaydev) == ("00:16:3e:74:3d:76", "br1", "10.0.0.2 10.0.0.3/24",
                                "vif-route", "web0", 9000, "10Mb/s", "eth0")


def test_hvm_vif_defaults():
    vif = parse_vif_spec("model=e1000", hvm=True)
    assert (vif.type, vif.model) == ("ioemu", "e1000")
    assert parse_vif_spec("", hvm=True).model == "rtl8139"
    assert parse_vif_spec("type=vif", hvm=True).model is None


@pytest.mark.parametrize("spec, problem", [
    ("mac=00:16:3e:74:3d", "mac '00:16:3e:74:3d' is not a MAC address"),
    ("mac=00:16:3e:74:3d:7g", "is not a MAC address"),
    ("mac=0:16:3e:74:3d:76", "is not a MAC address"),
    ("mac=00-16-3e-74-3d-76", "is not a MAC address"),
    ("mac=00:16:3e:74:3d:76:00", "is not a MAC address"),
    ("mac=01:16:3e:74:3d:76", "is a multicast address"),
    ("mca=00:16:3e:74:3d:76", "unknown key 'mca' (did you mean 'mac'?)"),
    ("bridge", "'bridge' is not key=value"),
    ("bridge=a,bridge=b", "bridge given twice"),
    ("bridge=much-too-long-name", "is not an interface name"),
    ("ip=10.0.0.300", "ip '10.0.0.300' is not an IP address"),
    ("type=tap", "unknown type 'tap' (expected ioemu or vif)"),
    ("type=ioemu", "type=ioemu (an emulated NIC) needs an HVM guest"),
    ("mtu=big", "mtu 'big' is not a whole number from 68 to 65535"),
])
def test_bad_vif_specs(spec, problem):
    with pytest.raises(SpecError) as caught:
        parse_vif_spec(spec)
    assert problem in str(caught.value)


def test_vif_errors_in_a_config(folder):
    text = MINIMAL + "vif = [ 'bridge=hvbr0',\n        'mac=00:16:3e:zz:00:01' ]\n"
    assert error_of(write(folder, text)) == \
        "web.cfg:4: vif[1]: mac '00:16:3e:zz:00:01' is not a MAC address " \
        "(expected six hex pairs like 00:16:3e:12:34:56)"
    text = MINIMAL + "vif = [ 'mac=00:16:3e:00:00:01', 'mac=00:16:3E:00:00:01' ]\n"
    assert error_of(write(folder, text)) == \
        "web.cfg:3: vif[1]: mac 00:16:3e:00:00:01 is already used by vif[0]"


def test_required_keys_may_come_from_the_command_line(folder):
    config = load_config(write(folder, 'memory = 64\n'), ['name="web"; kernel="vmlinuz"'])
    assert (config.name, config.kernel, config.memory) == ("web", folder / "vmlinuz", 64)


def test_parse_config_from_text(folder):
    from hvcore.toolstack import parse_config
    config = parse_config('name = "t"\nkernel = "vmlinuz"\n', "inline", folder)
    assert config.kernel == folder / "vmlinuz" and config.source is None
    with pytest.raises(ConfigError, match=r"^inline:1: unknown key 'nmae' \(did you mean 'name'\?\)$"):
        parse_config('nmae = "t"\n', "inline", folder)


def test_empty_vif_values_keep_the_default():
    assert parse_vif_spec("bridge=,ip=").bridge == "hvbr0"
