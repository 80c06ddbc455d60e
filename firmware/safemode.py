"""Runs instead of code.py when CircuitPython enters safe mode (brownout, hard fault,
watchdog...). Safe mode stops code.py, which for an unattended monitor means silence:
record why (the next birth message reports it) and reset. A safe mode the user asked for
(USER: the button at boot) is left alone, so the board stays reachable for repair.

The record is this run's one nvm write, after the hold that keeps a loop of safe modes
within sensor_node.persist's write bound.
"""

import microcontroller
import supervisor
import time

reason = str(supervisor.runtime.safe_mode_reason).split(".")[-1]
if reason != "USER":
    # A brownout resets straight into the same brownout; give the supply a moment.
    wait_s = 5
    try:
        from sensor_node.console import format_line
        from sensor_node.persist import BootRecord, hold_s

        record = BootRecord(
            microcontroller.nvm, str(microcontroller.cpu.reset_reason).split(".")[-1], "STARTUP"
        )
        wait_s = max(wait_s, hold_s(record.streak))
        uptime_ms = int(time.monotonic() * 1000)
        fields = ("reason", reason, "action", "reset", "wait_s", wait_s)
        print(format_line(uptime_ms, "ERROR", "safe_mode", fields))
        time.sleep(wait_s)
        wait_s = 0
        record.reset(0, "safe mode " + reason, reason)
    except Exception as exc:  # even a broken lib/ must not keep the board in safe mode
        print("safe_mode", reason, repr(exc))
    time.sleep(wait_s)
    microcontroller.reset()
