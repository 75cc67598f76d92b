"""HYPERVISOR_physdev_op: public/physdev.h."""

from ctypes import c_int32, c_uint8, c_uint16, c_uint32, c_uint64

from . import struct_pair

PHYSDEVOP_IRQ_UNMASK_NOTIFY = 4
PHYSDEVOP_irq_status_query = 5
PHYSDEVOP_set_iopl = 6
PHYSDEVOP_set_iobitmap = 7
PHYSDEVOP_apic_read = 8
PHYSDEVOP_apic_write = 9
PHYSDEVOP_alloc_irq_vector = 10
PHYSDEVOP_free_irq_vector = 11
PHYSDEVOP_eoi = 12
PHYSDEVOP_map_pirq = 13
PHYSDEVOP_unmap_pirq = 14
PHYSDEVOP_manage_pci_add = 15
PHYSDEVOP_manage_pci_remove = 16
PHYSDEVOP_pirq_eoi_gmfn_v1 = 17
PHYSDEVOP_restore_msi = 19
PHYSDEVOP_manage_pci_add_ext = 20
PHYSDEVOP_setup_gsi = 21
PHYSDEVOP_get_free_pirq = 23
PHYSDEVOP_pci_mmcfg_reserved = 24
PHYSDEVOP_pci_device_add = 25
PHYSDEVOP_pci_device_remove = 26
PHYSDEVOP_restore_msi_ext = 27
PHYSDEVOP_pirq_eoi_gmfn_v2 = 28
PHYSDEVOP_pirq_eoi_gmfn = PHYSDEVOP_pirq_eoi_gmfn_v2
PHYSDEVOP_dbgp_op = 29
PHYSDEVOP_prepare_msix = 30
PHYSDEVOP_release_msix = 31

PHYSDEVOP_DBGP_RESET_PREPARE = 1
PHYSDEVOP_DBGP_RESET_DONE = 2
PHYSDEVOP_DBGP_BUS_UNKNOWN = 0
PHYSDEVOP_DBGP_BUS_PCI = 1

XENIRQSTAT_needs_eoi_bit = 0
XENIRQSTAT_needs_eoi = 1 << XENIRQSTAT_needs_eoi_bit
XENIRQSTAT_shared_bit = 1
XENIRQSTAT_shared = 1 << XENIRQSTAT_shared_bit

MAP_PIRQ_TYPE_MSI = 0x0
MAP_PIRQ_TYPE_GSI = 0x1
MAP_PIRQ_TYPE_UNKNOWN = 0x2
MAP_PIRQ_TYPE_MSI_SEG = 0x3
MAP_PIRQ_TYPE_MULTI_MSI = 0x4

XEN_PCI_MMCFG_RESERVED = 0x1
XEN_PCI_DEV_EXTFN = 0x1
XEN_PCI_DEV_VIRTFN = 0x2
XEN_PCI_DEV_PXM = 0x4

physdev_eoi_64, physdev_eoi_32 = struct_pair("physdev_eoi", lambda abi: [("irq", c_uint32)])

physdev_pirq_eoi_gmfn_64, physdev_pirq_eoi_gmfn_32 = struct_pair(
    "physdev_pirq_eoi_gmfn", lambda abi: [("gmfn", abi.ulong)])

physdev_irq_status_query_64, physdev_irq_status_query_32 = struct_pair(
    "physdev_irq_status_query", lambda abi: [("irq", c_uint32), ("flags", c_uint32)])

physdev_set_iopl_64, physdev_set_iopl_32 = struct_pair(
    "physdev_set_iopl", lambda abi: [("iopl", c_uint32)])

physdev_set_iobitmap_64, physdev_set_iobitmap_32 = struct_pair(
    "physdev_set_iobitmap", lambda abi: [("bitmap", abi.handle), ("nr_ports", c_uint32)])

physdev_apic_64, physdev_apic_32 = struct_pair("physdev_apic", lambda abi: [
    ("apic_physbase", abi.ulong),
    ("reg", c_uint32),
    ("value", c_uint32),
])

physdev_irq_64, physdev_irq_32 = struct_pair(
    "physdev_irq", lambda abi: [("irq", c_uint32), ("vector", c_uint32)])

physdev_map_pirq_64, physdev_map_pirq_32 = struct_pair("physdev_map_pirq", lambda abi: [
    ("domid", c_uint16),
    ("type", c_int32),
    ("index", c_int32),
    ("pirq", c_int32),
    ("bus", c_int32),
    ("devfn", c_int32),
    ("entry_nr", c_int32),
    ("table_base", c_uint64),
])

physdev_unmap_pirq_64, physdev_unmap_pirq_32 = struct_pair(
    "physdev_unmap_pirq", lambda abi: [("domid", c_uint16), ("pirq", c_int32)])

physdev_manage_pci_64, physdev_manage_pci_32 = struct_pair(
    "physdev_manage_pci", lambda abi: [("bus", c_uint8), ("devfn", c_uint8)])

physdev_setup_gsi_64, physdev_setup_gsi_32 = struct_pair("physdev_setup_gsi", lambda abi: [
    ("gsi", c_int32),
    ("triggering", c_uint8),
    ("polarity", c_uint8),
])

physdev_get_free_pirq_64, physdev_get_free_pirq_32 = struct_pair(
    "physdev_get_free_pirq", lambda abi: [("type", c_int32), ("pirq", c_uint32)])

physdev_pci_mmcfg_reserved_64, physdev_pci_mmcfg_reserved_32 = struct_pair(
    "physdev_pci_mmcfg_reserved", lambda abi: [
        ("address", c_uint64),
        ("segment", c_uint16),
        ("start_bus", c_uint8),
        ("end_bus", c_uint8),
        ("flags", c_uint32),
    ])

physdev_pci_device_64, physdev_pci_device_32 = struct_pair("physdev_pci_device", lambda abi: [
    ("seg", c_uint16),
    ("bus", c_uint8),
    ("devfn", c_uint8),
])


def _physdev_op(abi):
    # Argument of the pre-3.2 HYPERVISOR_physdev_op_compat: command plus payload.
    u = abi.union("physdev_op_u", [
        ("irq_status_query", abi.pick(physdev_irq_status_query_64, physdev_irq_status_query_32)),
        ("set_iopl", abi.pick(physdev_set_iopl_64, physdev_set_iopl_32)),
        ("set_iobitmap", abi.pick(physdev_set_iobitmap_64, physdev_set_iobitmap_32)),
        ("apic_op", abi.pick(physdev_apic_64, physdev_apic_32)),
        ("irq_op", abi.pick(physdev_irq_64, physdev_irq_32)),
    ])
    return [("cmd", c_uint32), ("u", u)]


physdev_op_64, physdev_op_32 = struct_pair("physdev_op", _physdev_op)
