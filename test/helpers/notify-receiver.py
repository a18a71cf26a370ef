# Stands in for systemd's notify socket in the tests: a Unix datagram socket at argv[1]
# that prints each message it gets as one JSON line (the fields, and the milliseconds
# since it started), and closes any descriptor passed with it. systemd-notify's
# BARRIER=1 carries a pipe that it waits on until the receiver closes it, as PID 1 does.
import array, json, os, socket, sys, time

sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(sys.argv[1])
start = time.monotonic()
print(json.dumps({"bound": True}), flush=True)
while True:
    data, ancillary, _flags, _addr = sock.recvmsg(65536, socket.CMSG_SPACE(64 * 4))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
            for fd in fds:
                os.close(fd)
    fields = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
    print(json.dumps({"ms": round((time.monotonic() - start) * 1000), "fields": fields}), flush=True)
