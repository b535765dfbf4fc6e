"""Secrets in AWS Secrets Manager (provider ``aws-secrets-manager``, through ``boto3``).

Credentials come from boto3's default chain (an IAM role for the pod or instance in production:
EKS Pod Identity / IRSA, an ECS task role, an EC2 instance profile); Lore reads no key of its
own. Secret ``<prefix><name>`` holds the value as its ``SecretString``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from core.secrets.base import (
    SecretStore,
    SecretStoreError,
    SecretStoreUnavailable,
    validate_secret_name,
)
from core.secrets.redaction import Redactor
from core.sections import ServerMode

T = TypeVar("T")

# AWS's rule for secret names: 1-512 of letters, digits and /_+=.@-
_AWS_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
_UNAVAILABLE_CODES = {"InternalServiceError", "InternalFailure", "ServiceUnavailable",
                      "ThrottlingException", "Throttling", "RequestTimeout"}
_DENIED_CODES = {"AccessDeniedException", "AccessDenied", "UnrecognizedClientException",
                 "InvalidSignatureException", "ExpiredTokenException"}
_PERMISSION = {"get": "secretsmanager:GetSecretValue",
               "put": "secretsmanager:DescribeSecret, secretsmanager:PutSecretValue, "
                      "secretsmanager:CreateSecret and secretsmanager:RestoreSecret",
               "delete": "secretsmanager:DeleteSecret"}


@dataclass
class AwsSecretsManagerSettings:
    region: str = ""  # default: the chain's (AWS_REGION, the instance's region)
    endpoint_url: str = ""  # a VPC endpoint, or a test server
    prefix: str = "lore/"
    # Days a deleted secret can be restored (7-30); 0 deletes at once, without recovery.
    recovery_window_days: int = 7
    timeout_seconds: float = 5.0


class AwsSecretsManagerStore(SecretStore):
    name = "aws-secrets-manager"
    can_store = True

    def __init__(self, settings: AwsSecretsManagerSettings, redactor: Redactor) -> None:
        import boto3
        from botocore.config import Config

        days = settings.recovery_window_days
        if days != 0 and not 7 <= days <= 30:
            raise SecretStoreError(
                f"secrets.aws-secrets-manager.recovery_window_days must be 0 or 7-30, got {days}"
            )
        if not _AWS_NAME.fullmatch(settings.prefix + "x"):
            raise SecretStoreError(
                "secrets.aws-secrets-manager.prefix: use letters, digits and /_+=.@- only"
            )
        self._settings = settings
        self._redactor = redactor
        config = Config(connect_timeout=settings.timeout_seconds, read_timeout=settings.timeout_seconds,
                        retries={"max_attempts": 2, "mode": "standard"})
        self._client: Any = boto3.session.Session().client(
            "secretsmanager", region_name=settings.region or None,
            endpoint_url=settings.endpoint_url or None, config=config,
        )

    @property
    def redactor(self) -> Redactor:
        return self._redactor

    def where(self, name: str) -> str:
        return f"the AWS Secrets Manager secret {self._id(name)!r} (SecretString)"

    def get(self, name: str) -> str | None:
        secret_id = self._id(name)
        try:
            response = self._call("get", name, lambda: self._client.get_secret_value(SecretId=secret_id))
        except _Missing:
            return None
        value = response.get("SecretString")
        if not isinstance(value, str) or not value:
            return None
        self._redactor.register(value, name=name)
        return value

    def put(self, name: str, value: str) -> None:
        secret_id = self._id(name)
        client = self._client
        # Described first: a secret scheduled for deletion refuses new values until restored
        # (puts are rare: OAuth installs, token refreshes).
        try:
            described = self._call("put", name, lambda: client.describe_secret(SecretId=secret_id))
        except _Missing:
            self._call("put", name, lambda: client.create_secret(Name=secret_id, SecretString=value))
            return
        if described.get("DeletedDate") is not None:
            self._call("put", name, lambda: client.restore_secret(SecretId=secret_id))
        self._call("put", name, lambda: client.put_secret_value(SecretId=secret_id, SecretString=value))

    def delete(self, name: str) -> None:
        secret_id = self._id(name)
        days = self._settings.recovery_window_days
        options: dict[str, Any] = ({"ForceDeleteWithoutRecovery": True} if days == 0
                                   else {"RecoveryWindowInDays": days})
        try:
            self._call("delete", name, lambda: self._client.delete_secret(SecretId=secret_id, **options))
        except _Missing:
            return

    def __repr__(self) -> str:
        return f"<AwsSecretsManagerStore {self._settings.region or 'default region'}>"

    def _id(self, name: str) -> str:
        secret_id = self._settings.prefix + validate_secret_name(name)
        if not _AWS_NAME.fullmatch(secret_id):
            raise SecretStoreError(f"secret {name!r} with the prefix is not a valid AWS secret name")
        return secret_id

    def _call(self, operation: str, name: str, action: Callable[[], T]) -> T:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            return action()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            message = str(exc.response.get("Error", {}).get("Message", ""))
            if code == "ResourceNotFoundException":
                raise _Missing(scheduled=False) from None
            # AWS words it "marked for deletion" or "currently marked deleted", by operation.
            if code == "InvalidRequestException" and re.search(r"marked (?:for )?delet", message):
                raise _Missing(scheduled=True) from None
            if code in _DENIED_CODES:
                raise SecretStoreError(
                    f"AWS Secrets Manager denied access to secret {name!r} ({code}): Lore's role "
                    f"needs {_PERMISSION[operation]} on arn:aws:secretsmanager:*:*:secret:"
                    f"{self._settings.prefix}*"
                ) from None
            if code in _UNAVAILABLE_CODES or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
                raise SecretStoreUnavailable(f"AWS Secrets Manager is unavailable ({code})") from None
            raise SecretStoreError(f"AWS Secrets Manager refused {operation} of secret {name!r} ({code})") from None
        except NoCredentialsError:
            raise SecretStoreError(
                "AWS Secrets Manager: no AWS credentials found (give the pod or instance an IAM role)"
            ) from None
        except BotoCoreError as exc:  # connection refused, timeouts, DNS
            raise SecretStoreUnavailable(f"AWS Secrets Manager cannot be reached ({type(exc).__name__})") from None


class _Missing(SecretStoreError):
    """Internal: the secret does not exist (or is scheduled for deletion)."""

    def __init__(self, *, scheduled: bool) -> None:
        super().__init__("missing")
        self.scheduled = scheduled


def open_aws_store(
    settings: AwsSecretsManagerSettings, mode: ServerMode, env: Mapping[str, str] | None, redactor: Redactor
) -> AwsSecretsManagerStore:
    return AwsSecretsManagerStore(settings, redactor)
