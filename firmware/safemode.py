"""Runs instead of code.py when CircuitPython enters safe mode (brownout, hard fault,
watchdog...). Safe mode stops code.py, which for an unattended monitor means silence:
record why (the next birth message reports it) and reset. A safe mode the user asked for
(USER: the button at boot) is left alone, so the board stays reachable for repair.
"""

import microcontroller
import supervisor
import time

reason = str(supervisor.runtime.safe_mode_reason).split(".")[-1]
if reason != "USER":
    try:
        from sensor_node.console import format_line
        from sensor_node.persist import record_safe_mode

        uptime_ms = int(time.monotonic() * 1000)
        print(format_line(uptime_ms, "ERROR", "safe_mode", ("reason", reason, "action", "reset")))
        record_safe_mode(microcontroller.nvm, reason)
    except Exception as exc:  # even a broken lib/ must not keep the board in safe mode
        print("safe_mode", reason, repr(exc))
    # A brownout resets straight into the same brownout; give the supply a moment.
    time.sleep(5)
    microcontroller.reset()
