"""Decodes many BGP UPDATE messages with the installed ExaBGP in one process (what
`exabgp decode` does per message, without a Python start-up for each): tests/bgp_exabgp_corpus.rs
runs it with ExaBGP's venv Python.

Input, one JSON object a line: {"hex": "FFFF…", "asn4": bool, "addpath": bool}.
Output, one JSON line per input line: {"ok": bool, "json": <ExaBGP's JSON or null>,
"text": <what it printed otherwise>}.
"""

import contextlib
import io
import json
import sys

from exabgp.configuration.configuration import Configuration
from exabgp.environment import getenv
from exabgp.logger import log
from exabgp.reactor.loop import Reactor

CONF = """\
neighbor 127.0.0.1 {
    router-id 10.0.0.2;
    local-address 127.0.0.1;
    local-as 65533;
    peer-as 65533;
    family { all; }
    capability { %s }
}
"""


def main():
    env = getenv()
    env.bgp.passive = True
    env.log.parser = True
    env.tcp.bind = ""
    log.silence()
    log.init(env)
    reactors = {}
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        key = (req["asn4"], req["addpath"])
        if key not in reactors:
            caps = ("" if req["asn4"] else "asn4 disable; ") + (
                "add-path send/receive;" if req["addpath"] else ""
            )
            reactors[key] = Reactor(Configuration([CONF % caps], text=True))
        buf = io.StringIO()
        try:
            with contextlib.redirect_stdout(buf):
                ok = reactors[key].display(req["hex"], False)
        except Exception as e:  # a decoder error is an answer, not a crash of the driver
            ok = False
            buf.write("exception: %r" % (e,))
        text = buf.getvalue().strip()
        parsed = None
        if ok:
            try:
                parsed = json.loads(text)
            except ValueError:
                ok = False
        print(json.dumps({"ok": bool(ok), "json": parsed, "text": None if ok else text}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
