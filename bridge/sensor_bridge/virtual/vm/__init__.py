"""The virtual board's second engine: the drive's program on CircuitPython's own VM.

``python -m sensor_bridge.virtual --engine vm`` runs the unmodified drive on
``circuitpython-mcu`` (CircuitPython 10.1.0's unix port built like a microcontroller, one
GC heap of the board's size: ``sensor_bridge.circuitpython_tools``). What a board has in C
(board, busio, digitalio, analogio, wifi, socketpool, microcontroller, watchdog,
supervisor, rtc, neopixel_write, time.monotonic, os.getenv) are small modules that run on
the VM (``device/``, data files here, not host code). The rest of the rig stays on the host,
as with the CPython engine: the furnace, the register-level MAX31856, the ADC source, the
network and its faults, nvm, the watchdog's enforcement, the control socket, the scenario.

The two sides talk over one TCP loopback connection (``channel``). Heap figures are the
VM's own ``gc.mem_free()``; ``heapsize`` picks the heap that makes it read the board's free
heap at the start of code.py. The VM runs in real time (speed 1).
"""
