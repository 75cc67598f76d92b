"""dom0's split-driver backends: the shared-ring back end (ring.py), the xenbus backend
state machine (xenbus.py, watches.py), and blkback (vbd.py, blkback.py, disk_image.py),
all run by the host loop through service.py."""
