"""pytest fixtures for the black-box protocol tests (STYLE.md 8.3).

Run under Debian's /usr/bin/python3 (python3-acme, python3-josepy,
python3-cryptography, python3-requests, python3-pytest) against a running
stack: scripts/stack.sh up (make up) or scripts/test.sh, which sets
ACME_STACK_ENV. The stack's env file is $ACME_STACK_ENV, default
REPO/.stack/env.

Fixtures:
  stack_env          dict of the env file (PGPORT, ACME_DIRECTORY_URL, ...)
  directory_url      https://127.0.0.1:ACMEPORT/acme/directory
  http_base          http://127.0.0.1:ACMEHTTPPORT (plain-HTTP listener)
  http_directory_url http://127.0.0.1:ACMEHTTPPORT/acme/directory
  https_base         https://127.0.0.1:ACMEPORT
  ca_bundle          PEM that the listener's TLS certificate chains to
  ca_cert_path       the issuing CA certificate (in the SoftHSM token)
  http01_port        where the validator sends http-01 requests (int)
  nginx_error_log    path of nginx's error.log
  http01_server      serves /.well-known/acme-challenge/<token> on
                     127.0.0.1:http01_port from a dict, for one test
  new_client         factory: new_client() -> registered acme ClientV2
  session            a requests.Session that trusts ca_bundle

Every test fails (as an error at teardown) when nginx logged an [alert] or
[emerg] line while it ran; the session checks the rest of the log at exit.
"""

import os
import pathlib
import re

import pytest
import requests

from acmehelp import Http01Server

REPO = pathlib.Path(__file__).resolve().parents[2]
ENV_FILE = os.environ.get("ACME_STACK_ENV", str(REPO / ".stack" / "env"))
BAD_LOG_LINE = re.compile(r"\[(alert|emerg)\]")
ENV_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)='([^']*)'\s*$")


def read_stack_env(path):
    """Parses the KEY='value' lines that scripts/stack.sh writes."""
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = ENV_LINE.match(line)
            if m:
                env[m.group(1)] = m.group(2)
    return env


# --- stack description ---------------------------------------------------

@pytest.fixture(scope="session")
def stack_env():
    if not os.path.isfile(ENV_FILE):
        pytest.exit("no stack env file %s: start a stack (make up) or set "
                    "ACME_STACK_ENV" % ENV_FILE, returncode=2)
    env = read_stack_env(ENV_FILE)
    for k in ("ACME_DIRECTORY_URL", "ACME_HTTP_BASE", "ACME_TLS_CA_BUNDLE",
              "ACME_CA_CERT", "HTTP01PORT", "NGINX_ERROR_LOG"):
        if k not in env:
            pytest.exit("%s: %s missing" % (ENV_FILE, k), returncode=2)
    return env


@pytest.fixture(scope="session")
def directory_url(stack_env):
    return stack_env["ACME_DIRECTORY_URL"]


@pytest.fixture(scope="session")
def http_base(stack_env):
    return stack_env["ACME_HTTP_BASE"]


@pytest.fixture(scope="session")
def http_directory_url(stack_env):
    return stack_env["ACME_HTTP_DIRECTORY_URL"]


@pytest.fixture(scope="session")
def https_base(stack_env):
    return stack_env["ACME_HTTPS_BASE"]


@pytest.fixture(scope="session")
def ca_bundle(stack_env):
    return stack_env["ACME_TLS_CA_BUNDLE"]


@pytest.fixture(scope="session")
def ca_cert_path(stack_env):
    return stack_env["ACME_CA_CERT"]


@pytest.fixture(scope="session")
def http01_port(stack_env):
    return int(stack_env["HTTP01PORT"])


@pytest.fixture(scope="session")
def nginx_error_log(stack_env):
    return stack_env["NGINX_ERROR_LOG"]


@pytest.fixture(scope="session")
def session(ca_bundle):
    s = requests.Session()
    s.verify = ca_bundle
    s.trust_env = False          # no proxies, no system REQUESTS_CA_BUNDLE
    s.headers["User-Agent"] = "nginx-acme-server-tests"
    yield s
    s.close()


# --- nginx error.log watch -----------------------------------------------

class _ErrorLogWatch:
    """Remembers how far error.log has been checked."""

    def __init__(self, path):
        self.path = path
        self.offset = self._size()

    def _size(self):
        try:
            return os.path.getsize(self.path)
        except OSError:
            return 0

    def new_bad_lines(self):
        """[alert]/[emerg] lines written since the last call."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        # only whole lines: a line being written is checked next time
        end = data.rfind(b"\n") + 1
        self.offset += end
        text = data[:end].decode("utf-8", "replace")
        return [l for l in text.splitlines() if BAD_LOG_LINE.search(l)]


@pytest.fixture(scope="session", autouse=True)
def _error_log_watch(nginx_error_log):
    watch = _ErrorLogWatch(nginx_error_log)
    yield watch
    bad = watch.new_bad_lines()
    if bad:
        pytest.fail("nginx error.log (%s) has [alert]/[emerg] lines:\n%s"
                    % (nginx_error_log, "\n".join(bad[:20])), pytrace=False)


@pytest.fixture(autouse=True)
def _no_alerts_during_test(_error_log_watch):
    yield
    bad = _error_log_watch.new_bad_lines()
    if bad:
        pytest.fail("nginx logged [alert]/[emerg] during this test:\n%s"
                    % "\n".join(bad[:20]), pytrace=False)


# --- http-01 responder ---------------------------------------------------

@pytest.fixture
def http01_server(http01_port):
    """A dict token -> key authorization (str or bytes), served over HTTP
    on 127.0.0.1:http01_port while the test runs. The dict has a
    .requests list of (path, Host) seen by the server."""

    class Responses(dict):
        pass

    responses = Responses()
    with Http01Server(http01_port, responses) as srv:
        responses.requests = srv.requests
        yield responses


# --- ACME clients --------------------------------------------------------

@pytest.fixture
def new_client(directory_url, ca_bundle):
    """new_client(register=True, url=directory_url, key=None,
    contact=()) -> acme.client.ClientV2 with a fresh ES256 account key
    (client.net.key), registered with terms of service agreed unless
    register=False."""
    from acme import client as acme_client
    from acme import messages
    from cryptography.hazmat.primitives.asymmetric import ec
    import josepy as jose

    made = []

    def make(register=True, url=None, key=None, contact=()):
        if key is None:
            key = jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
        url = url or directory_url
        verify = ca_bundle if url.startswith("https:") else False
        net = acme_client.ClientNetwork(
            key, alg=jose.ES256, verify_ssl=verify,
            user_agent="nginx-acme-server-tests", timeout=30)
        net.session.trust_env = False
        directory = messages.Directory.from_json(net.get(url).json())
        c = acme_client.ClientV2(directory, net=net)
        if register:
            fields = {"terms_of_service_agreed": True}
            if contact:
                fields["contact"] = tuple(contact)
            c.new_account(messages.NewRegistration.from_data(**fields))
        made.append(c)
        return c

    yield make
    for c in made:
        try:
            c.net.session.close()
        except Exception:   # pylint: disable=broad-except
            pass
