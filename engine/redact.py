"""Keep secrets out of output: DSN passwords and service-account keys are never printed."""
from __future__ import annotations

import re

# The password runs to the last '@' of the URL: an unencoded '@' or '/' in it is masked too.
_URL_PASSWORD = re.compile(r"(?i)(?P<scheme>postgres(?:ql)?://)(?P<user>[^:@/\s]*):(?P<pw>\S*)@")
_KV_PASSWORD = re.compile(r"(?i)\b(password)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S)


def redact(text: str) -> str:
    """Replace passwords in DSNs and PEM private keys with ``***``.

    >>> redact("postgresql://app:s3cret@db:5432/x failed")
    'postgresql://app:***@db:5432/x failed'
    >>> redact("postgresql://app:pa@ss@db/x"), redact("POSTGRES://app:pa/ss@db/x")
    ('postgresql://app:***@db/x', 'POSTGRES://app:***@db/x')
    >>> redact("host=db password='a b' dbname=x")
    'host=db password=*** dbname=x'
    """
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    text = _KV_PASSWORD.sub(lambda m: f"{m[1]}=***", text)
    return _PRIVATE_KEY.sub("***PRIVATE KEY***", text)
