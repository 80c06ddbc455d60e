"""CircuitPython's REPL on the virtual board: the friendly ``>>>`` one and the raw one.

Both engines run this module: the vm engine on CircuitPython's VM (``vboard_main``, keys
from the VM's stdin), the cpython engine on CPython (``sensor_bridge.virtual.repl``). So it
is written in the Python both accept, and what differs (where keys come from, how a
statement runs and how its error reads) is passed in.

The protocol is CircuitPython's (``shared/runtime/pyexec.c``):

* friendly: the version banner, ``>>> `` / ``... `` prompts with echo and backspace; Enter
  is CR (LF is ignored, shared/readline/readline.c); on an empty line Ctrl-A enters the raw
  REPL, Ctrl-B prints the banner, Ctrl-D soft-reboots, Ctrl-E enters paste mode; Ctrl-C
  cancels the line. A statement goes on over ``... `` lines as
  ``py/repl.c`` (``mp_repl_continue_with_input``) decides: an open bracket or triple quote, a
  trailing backslash, or a compound statement until an empty line;
* raw: ``raw REPL; CTRL-B to exit`` then ``>``; the code is sent and ended with Ctrl-D; the
  board answers ``OK``, the output, ``\\x04``, the error text, ``\\x04``, and ``>`` again.
  Ctrl-D on an empty buffer soft-reboots; Ctrl-B returns to the friendly REPL. Raw-paste mode
  (Ctrl-E ``A`` Ctrl-A), which CircuitPython 10 offers, is not: the answer ``R\\x00`` tells a
  client (mpremote) to use plain raw mode.

Not modelled: a board starts a fresh VM when the REPL changes mode (main.c), so names defined
in one mode are gone in the other; here they stay. No auto-indent after a ``:`` line.
"""

CTRL_A = 0x01
CTRL_B = 0x02
CTRL_C = 0x03
CTRL_D = 0x04
CTRL_E = 0x05
BACKSPACES = (0x08, 0x7F)
ESC = 0x1B
CR = 0x0D
LF = 0x0A

SOURCE_NAME = "<stdin>"
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
PASTE_BANNER = b"\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== "
COMPOUND_KEYWORDS = ("if", "while", "for", "try", "with", "def", "class", "async")
BRACKETS = ("()", "[]", "{}")


class Repl:
    """``run(raw)`` returns when the host asks for a soft reboot, saying whether the REPL
    was raw.

    ``read_key()`` is the next key typed (Ctrl-C among them); ``write(data)`` sends bytes to
    the console; ``execute(source, mode)`` compiles (``"single"`` or ``"exec"``) and runs a
    statement, its output going to the console, and returns its error as the board prints
    it ('' when none)."""

    def __init__(self, read_key, write, execute, banner):
        self._read_key = read_key
        self._write = write
        self._execute = execute
        self._banner = banner.encode()

    def run(self, raw):
        while True:
            try:
                if raw:
                    if self._raw():
                        return True
                    raw = False
                elif self._friendly():
                    return False
                else:
                    raw = True
            except KeyboardInterrupt:
                # A Ctrl-C that arrived as a signal between two statements: the prompt again.
                self._write(b"\r\n")

    # --- friendly ---------------------------------------------------------------------

    def _friendly(self):
        """True for a soft reboot, False to change to the raw REPL."""
        self._write(b"\r\n" + self._banner + b"\r\n")
        while True:
            line, control = self._readline(b">>> ")
            if control == CTRL_A:
                self._write(b"\r\n")
                return False
            if control == CTRL_B:
                self._write(b"\r\n\r\n" + self._banner + b"\r\n")
                continue
            if control == CTRL_C:
                self._write(b"\r\n")
                continue
            if control == CTRL_D:
                self._write(b"\r\n")
                return True
            if control == CTRL_E:
                source = self._paste()
                if source is not None:
                    self._run(source, "exec")
                continue
            if not line.strip():
                continue
            source = self._continued(line)
            if source is not None:
                self._run(source, "single")

    def _continued(self, first):
        """The statement that starts with ``first``, reading ``... `` lines while it goes on;
        None when Ctrl-C cancels it."""
        source = first
        while continues(source):
            line, control = self._readline(b"... ")
            if control == CTRL_C:
                self._write(b"\r\n")
                return None
            if control == CTRL_D:
                break
            source += "\n" + line
        return source

    def _readline(self, prompt):
        """A line typed after ``prompt`` (echoed), or the control key that ended it."""
        self._write(prompt)
        line = bytearray()
        while True:
            key = self._read_key()
            if key == CR:
                self._write(b"\r\n")
                return _text(line), None
            if key == LF:
                continue
            if key == CTRL_C:
                return "", CTRL_C
            if key in (CTRL_A, CTRL_B, CTRL_D, CTRL_E):
                if not line:
                    return "", key
                continue
            if key in BACKSPACES:
                if line:
                    line.pop()
                    self._write(b"\b \b")
                continue
            if key == ESC:
                self._skip_escape()
                continue
            if key >= 0x20:
                line.append(key)
                self._write(bytes([key]))

    def _skip_escape(self):
        """Drop a cursor-key sequence (``ESC [ A``): there is no history or line editing."""
        if self._read_key() != ord("["):
            return
        while not 0x40 <= self._read_key() <= 0x7E:
            pass

    def _paste(self):
        self._write(PASTE_BANNER)
        source = bytearray()
        while True:
            key = self._read_key()
            if key == CTRL_C:
                self._write(b"\r\n")
                return None
            if key == CTRL_D:
                self._write(b"\r\n")
                return _text(source).replace("\r\n", "\n").replace("\r", "\n")
            source.append(key)
            self._write(b"\r\n=== " if key == CR else bytes([key]))

    # --- raw --------------------------------------------------------------------------

    def _raw(self):
        """True for a soft reboot, False to change to the friendly REPL."""
        self._write(RAW_BANNER)
        while True:
            self._write(b">")
            code = bytearray()
            while True:
                key = self._read_key()
                if key == CTRL_A:
                    if len(code) == 2 and code[0] == CTRL_E:
                        self._write(b"R\x00>")
                    else:
                        self._write(RAW_BANNER + b">")
                    code = bytearray()
                elif key == CTRL_B:
                    self._write(b"\r\n")
                    return False
                elif key == CTRL_C:
                    code = bytearray()
                elif key == CTRL_D:
                    break
                else:
                    code.append(key)
            self._write(b"OK")
            if not code:
                self._write(b"\r\n")
                return True
            self._run(_text(code), "exec", True)

    # --- running ----------------------------------------------------------------------

    def _run(self, source, mode, framed=False):
        """Run ``source``; the raw REPL frames output and error with ``\\x04``."""
        error = self._execute(source, mode)
        if framed:
            self._write(b"\x04")
        if error:
            self._write(crlf(error).encode())
        if framed:
            self._write(b"\x04")


def continues(source):
    """Whether the friendly REPL reads another line for ``source`` (py/repl.c,
    ``mp_repl_continue_with_input``; lines are joined with ``\\n``)."""
    if not source:
        return False
    compound = source[0] == "@"
    for keyword in COMPOUND_KEYWORDS:
        compound = compound or _starts_with_word(source, keyword)
    quote, depth = _open(source)
    if len(quote) == 3:
        return True
    if not quote and max(depth) > 0:
        return True
    if source[-1] == "\\":
        return True
    return compound and source[-1] != "\n"


def _open(source):
    """The quote left open at the end of ``source`` ('' for none) and the depth of each kind
    of bracket outside quotes."""
    depth = [0, 0, 0]
    quote = ""
    index = 0
    while index < len(source):
        char = source[index]
        if char in "'\"":
            triple = char * 3
            if quote in ("", triple) and source[index : index + 3] == triple:
                index += 2
                quote = "" if quote == triple else triple
            elif quote in ("", char):
                quote = "" if quote == char else char
        elif char == "\\" and source[index + 1 : index + 2] in ("'", '"', "\\"):
            if quote:
                index += 1
        elif not quote:
            for kind, pair in enumerate(BRACKETS):
                if char == pair[0]:
                    depth[kind] += 1
                elif char == pair[1]:
                    depth[kind] -= 1
        index += 1
    return quote, depth


def _starts_with_word(text, word):
    if not text.startswith(word):
        return False
    rest = text[len(word) : len(word) + 1]
    return not rest or not (rest.isalpha() or rest.isdigit() or rest == "_")


def crlf(text):
    """Console text: every line break ``\\r\\n``, as CircuitPython's cooked output sends."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def _text(data):
    """Typed bytes as text; a byte that is not UTF-8 becomes U+FFFD (the statement then fails
    to compile, as on a board) instead of ending the REPL."""
    try:
        return bytes(data).decode("utf-8")
    except UnicodeError:
        return "".join(chr(byte) if byte < 0x80 else "\ufffd" for byte in data)
