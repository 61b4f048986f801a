"""Runs `wstest -m fuzzingserver -s SPEC`, listening on 127.0.0.1 only.

autobahntestsuite 25.10.1 binds the fuzzing server to every interface
whatever host its spec's URL names (it calls listenWS without an interface);
this wrapper gives that call the loopback interface. Python 2.7.
usage: python autobahn_server.py SPEC
"""
import sys

from autobahn.twisted import websocket
from autobahntestsuite import fuzzing, wstest

_listen = websocket.listenWS


def listen_on_loopback(factory, contextFactory=None, backlog=50, interface="127.0.0.1"):
    return _listen(factory, contextFactory, backlog, interface)


fuzzing.listenWS = listen_on_loopback
sys.argv = ["wstest", "-m", "fuzzingserver", "-s", sys.argv[1]]
sys.exit(wstest.run())
