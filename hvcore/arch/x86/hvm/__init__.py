"""HVM guests: the vCPU as a PC's CPU (reset, segments, interrupt delivery, run loop).

See docs/hvm.md for the design; the PC devices live in hvcore/hvm/.
"""
