"""The PC devices through their ports, as a guest drives them (values from the
8259A, 8254, 16550A and MC146818 data sheets)."""
from __future__ import annotations

from hvcore.hvm.devices.cmos import Cmos
from hvcore.hvm.devices.pic import Pic8259Pair
from hvcore.hvm.devices.pit import Pit8254
from hvcore.hvm.devices.uart import Uart16550
from hvcore.hvm.platform import ConsoleSink, IoBus, IrqLines


def programmed_pic() -> Pic8259Pair:
    pic = Pic8259Pair()
    for port, value in ((0x20, 0x11), (0xA0, 0x11), (0x21, 0x20), (0xA1, 0x28),
                        (0x21, 0x04), (0xA1, 0x02), (0x21, 0x01), (0xA1, 0x01),
                        (0x21, 0x00), (0xA1, 0x00)):
        pic.io_write(port, 1, value)
    return pic


def test_pic_priority_nesting_and_eoi():
    pic = programmed_pic()
    pic.set_irq(3, True)
    pic.set_irq(1, True)
    assert pic.acknowledge() == 0x21           # IRQ1 before IRQ3
    assert not pic.intr_pending()              # IRQ3 waits: IRQ1 is in service
    pic.io_write(0x20, 1, 0x20)                # EOI
    assert pic.acknowledge() == 0x23


def test_pic_slave_through_cascade_and_mask():
    pic = programmed_pic()
    pic.io_write(0xA1, 1, 0x40)                # mask IRQ14
    pic.set_irq(14, True)
    assert not pic.intr_pending()
    pic.io_write(0xA1, 1, 0x00)
    pic.set_irq(14, False)
    pic.set_irq(14, True)                      # a new edge
    assert pic.intr_pending() and pic.acknowledge() == 0x2E
    pic.io_write(0x20, 1, 0x0B)                # OCW3: read ISR
    assert pic.io_read(0x20, 1) == 0x04        # cascade line in service on the master


def test_pit_periodic_irq0_from_host_time():
    now = [100.0]
    raised = []
    pit = Pit8254(raise_irq=raised.append, clock=lambda: now[0])
    pit.io_write(0x43, 1, 0x34)                # channel 0, lo/hi, mode 2
    pit.io_write(0x40, 1, 1193 & 0xFF)
    pit.io_write(0x40, 1, 1193 >> 8)
    assert abs(pit.deadline() - (100.0 + 1193 / 1193182)) < 1e-9
    now[0] += 0.0005
    pit.tick(now[0])
    assert raised == []
    now[0] += 0.0006
    pit.tick(now[0])
    assert raised == [0]
    pit.io_write(0x43, 1, 0x00)                # latch channel 0
    count = pit.io_read(0x40, 1) | pit.io_read(0x40, 1) << 8
    assert 0 < count <= 1193


def test_uart_output_input_and_irq4():
    console, levels = ConsoleSink(), []
    uart = Uart16550(console=console, set_irq=lambda irq, level: levels.append((irq, level)))
    bus = IoBus()
    bus.attach(uart)
    for ch in b"hi":
        bus.write(0x3F8, 1, ch)
    assert console.take() == b"hi"
    assert bus.read(0x3FD, 1) & 0x61 == 0x60   # THR empty, no data
    bus.write(0x3FC, 1, 0x08)                  # OUT2
    bus.write(0x3F9, 1, 0x01)                  # receive interrupt
    uart.feed(b"k")
    assert levels[-1] == (4, True)
    assert bus.read(0x3FA, 1) & 0x0F == 0x04   # IIR: received data
    assert bus.read(0x3FD, 1) & 1 and bus.read(0x3F8, 1) == ord("k")
    assert levels[-1] == (4, False)


def test_cmos_memory_sizes_and_bcd_clock():
    cmos = Cmos(memory_bytes=64 << 20, clock=lambda: 1_700_000_000.0)  # 2023-11-14 22:13:20
    def read(reg: int) -> int:
        cmos.io_write(0x70, 1, reg)
        return cmos.io_read(0x71, 1)
    assert read(0x34) | read(0x35) << 8 == (48 << 20) >> 16
    assert read(0x30) | read(0x31) << 8 == 63 * 1024
    assert (read(4), read(2), read(0), read(9), read(0x32)) == (0x22, 0x13, 0x20, 0x23, 0x20)


def test_irq_lines_reach_every_controller():
    lines, seen = IrqLines(), []
    lines.connect(type("Sink", (), {"set_irq": lambda self, irq, level: seen.append((irq, level))})())
    lines.pulse(0)
    assert seen == [(0, True), (0, False)]


def test_unclaimed_ports_read_all_ones():
    assert IoBus().read(0x80, 1) == 0xFF and IoBus().read(0x80, 2) == 0xFFFF


def test_console_hands_on_whole_lines_while_busy_and_a_partial_one_soon():
    # so that console_io or the PV ring never cut a line written on port E9 or COM1
    import time as _time

    from hvcore.hvm.platform import ConsoleSink
    sink = ConsoleSink()
    sink.write(b"one line\nhalf a li")
    assert sink.take(whole_lines=True) == b"one line\n"
    assert sink.take(whole_lines=True) == b""              # the half line waits
    _time.sleep(ConsoleSink.PARTIAL_LINE_WAIT_S + 0.01)
    assert sink.take(whole_lines=True) == b"half a li"     # a prompt is not held for long
    sink.write(b"ne\n$ ")
    assert sink.take() == b"ne\n$ "                        # all of it when asked
