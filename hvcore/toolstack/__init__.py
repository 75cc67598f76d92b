"""The toolstack side of hv (xl's counterpart): domain configuration for now.

`load_config(path, overrides)` reads an xl.cfg-style file into a `DomainConfig`
(see `config.py`); it parses and checks, and starts nothing.
"""
from .config import ConfigError, DomainConfig, load_config, parse_config
from .disk import DiskSpec, parse_disk_spec
from .vdev import device_number
from .vif import VifSpec, parse_vif_spec, random_xen_mac

__all__ = ["ConfigError", "DomainConfig", "load_config", "parse_config", "DiskSpec",
           "parse_disk_spec", "device_number", "VifSpec", "parse_vif_spec",
           "random_xen_mac"]
