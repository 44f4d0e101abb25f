"""A client of moatd's API over its Unix socket (docs/host.md "API"), for the Nova driver.

It imports nothing from Nova, so it can be used and tested on its own. Every call carries the
driver's own token, so moatd's audit log names the driver as the actor of everything it does.
"""

import http.client
import json
import socket
import urllib.parse

# Bound: a reply larger than this is refused rather than read (the console scrollback, the
# largest reply the driver asks for, is at most 1 MiB).
MAX_REPLY_BYTES = 4 * 1024 * 1024
# What a lifecycle call may take beyond the guest's grace (moatd's start and stop timeouts).
STOP_MARGIN_S = 120
# An image import copies and checks the whole file (a large image: minutes).
IMPORT_TIMEOUT_S = 3600


class MoatError(Exception):
    """moatd answered with an error (status and its `error` text), or could not be reached."""

    def __init__(self, message, status=None, field=None):
        super().__init__(message)
        self.status = status
        self.field = field


class MoatNotFound(MoatError):
    """404: no such VM or image (as this token may see)."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("moatd", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class MoatClient:
    """One moatd, reached at `socket_path` with the token read from `token_file`."""

    def __init__(self, socket_path, token_file, timeout=120):
        self.socket_path = socket_path
        self.token_file = token_file
        self.timeout = timeout

    def _token(self):
        # Read at every call: a token rotated on disk takes effect without a restart.
        try:
            with open(self.token_file, encoding="ascii") as f:
                token = f.read().strip()
        except OSError as e:
            raise MoatError(f"cannot read the moat token file {self.token_file}: {e.strerror}")
        if not token:
            raise MoatError(f"the moat token file {self.token_file} is empty")
        return token

    def request(self, method, path, body=None, query=None, text=False, timeout=None):
        """One API call; returns the decoded JSON (or text), raises MoatError on a non-2xx.
        `timeout`: seconds to wait for the answer (default the client's)."""
        if query:
            path += "?" + urllib.parse.urlencode(query)
        headers = {"Authorization": "Bearer " + self._token()}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn = _UnixConnection(self.socket_path, timeout or self.timeout)
        try:
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read(MAX_REPLY_BYTES + 1)
            except OSError as e:
                raise MoatError(f"moatd at {self.socket_path}: {e.strerror or e}")
        finally:
            conn.close()
        if len(raw) > MAX_REPLY_BYTES:
            raise MoatError(f"moatd's reply to {method} {path} is over {MAX_REPLY_BYTES} bytes")
        if resp.status >= 300:
            try:
                err = json.loads(raw)
                message, field = err.get("error", raw.decode(errors="replace")), err.get("field")
            except ValueError:
                message, field = raw.decode(errors="replace"), None
            cls = MoatNotFound if resp.status == 404 else MoatError
            raise cls(f"moatd: {method} {path}: {resp.status} {message}", resp.status, field)
        if resp.status == 204 or not raw:
            return None
        return raw.decode("utf-8", errors="replace") if text else json.loads(raw)

    # The calls the driver makes, by what they do.

    def host(self):
        return self.request("GET", "/v1/host")

    def list_vms(self):
        return self.request("GET", "/v1/vms")

    def get_vm(self, vm):
        return self.request("GET", "/v1/vms/" + urllib.parse.quote(vm, safe=""))

    def create_vm(self, spec):
        return self.request("POST", "/v1/vms", body=spec)

    def delete_vm(self, vm, force=True):
        return self.request(
            "DELETE", "/v1/vms/" + urllib.parse.quote(vm, safe=""), query={"force": "true" if force else "false"}
        )

    def lifecycle(self, vm, op, timeout=None):
        """start, stop (timeout: the guest's grace, seconds), kill, pause or resume.

        A stop answers when the VM is off: after the grace, moatd powers it off itself (its
        stopTimeoutMs), so the answer is waited for the grace and STOP_MARGIN_S more."""
        query = {"timeout": int(timeout)} if timeout is not None else None
        return self.request("POST", f"/v1/vms/{urllib.parse.quote(vm, safe='')}/{op}",
                            query=query, timeout=(timeout or 0) + STOP_MARGIN_S)

    def logs(self, vm, nbytes):
        return self.request(
            "GET", f"/v1/vms/{urllib.parse.quote(vm, safe='')}/logs", query={"bytes": nbytes}, text=True
        )

    def list_images(self):
        return self.request("GET", "/v1/images")

    def delete_image(self, image):
        """Refused (409) while a VM has an overlay on it."""
        return self.request("DELETE", "/v1/images/" + urllib.parse.quote(image, safe=""))

    def import_image(self, path, name, domain, fmt):
        return self.request(
            "POST", "/v1/images", body={"path": path, "name": name, "domain": domain, "format": fmt},
            timeout=IMPORT_TIMEOUT_S)
