"""The PC platform of HVM domains: devices (one module each, in devices/), the port
table they answer on, IRQ routing, the domain and its run loop. See docs/hvm.md."""
