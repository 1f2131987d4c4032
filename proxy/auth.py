"""Client API keys: who may spend the operator's upstream key, and which policy applies.

Keys are stored as SHA-256 hex digests only, in a YAML file:

    tenants:
      acme: {policy: acme-policy.yaml}     # optional; default: the policy given to `serve`
      beta: {}
    keys:
      - {tenant: acme, sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}

`guardrail-proxy hash-key` prints the digest of a key read from standard input. A presented
key is hashed and compared with every stored digest in constant time. The tenant name is a
bounded metric label and goes into the audit trail; the key never goes anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class ClientKeysError(ValueError):
    """The client-keys file cannot be used; the message names the file and the fix."""


class _TenantSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    policy: str | None = None


class _KeySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    tenant: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class _KeysFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    tenants: dict[str, _TenantSpec] = Field(min_length=1)
    keys: list[_KeySpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_tenants(self) -> _KeysFile:
        for key in self.keys:
            if key.tenant not in self.tenants:
                raise ValueError(f"key for tenant {key.tenant!r}, which is not listed under 'tenants'")
        for name in self.tenants:
            if not name.replace("-", "").replace("_", "").isalnum() or len(name) > 64:
                raise ValueError(f"tenant name {name!r}: use 1-64 letters, digits, '-' or '_'")
        return self


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ClientKeys:
    """The tenants, their policy files, and the digests of their keys."""

    digests: tuple[tuple[bytes, str], ...]
    policies: dict[str, Path | None]

    @classmethod
    def load(cls, path: Path) -> ClientKeys:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            spec = _KeysFile.model_validate(raw)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ClientKeysError(f"{path}: cannot read the client keys file: {exc}") from None
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ClientKeysError(f"{path}: invalid client keys file: {problems}") from None
        policies = {
            name: (path.parent / tenant.policy if tenant.policy else None) for name, tenant in spec.tenants.items()
        }
        return cls(tuple((bytes.fromhex(k.sha256), k.tenant) for k in spec.keys), policies)

    def tenant_for(self, authorization: str | None) -> str | None:
        """The tenant whose key is presented as `Bearer <key>`, or None. Constant time per key."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        presented = hashlib.sha256(authorization[7:].strip().encode("utf-8")).digest()
        found: str | None = None
        for digest, tenant in self.digests:  # no early exit: every digest is compared
            if hmac.compare_digest(presented, digest):
                found = tenant
        return found
