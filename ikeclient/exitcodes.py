"""Exit codes of the ``ikeclient`` command, one per kind of failure a person must tell apart."""

from __future__ import annotations

from enum import IntEnum

from ikeclient.errors import (
    AuthenticationFailed,
    CertificateError,
    ConfigError,
    GatewayUnreachable,
    IdentityMismatch,
    IkeClientError,
    InvalidKePayload,
    InvalidSyntax,
    NoProposalChosen,
    PrivilegeError,
    RemoteProtocolError,
    SecretStoreError,
    SettingRefused,
    TsUnacceptable,
    UnsupportedCriticalPayload,
)


class ExitCode(IntEnum):
    """Documented in README.md ("Exit codes")."""

    OK = 0
    INTERNAL_ERROR = 1
    CONFIG_ERROR = 2
    SECRET_ERROR = 3
    NO_PRIVILEGE = 4
    AUTHENTICATION_FAILED = 10
    IDENTITY_MISMATCH = 11
    NO_PROPOSAL_CHOSEN = 12
    TS_UNACCEPTABLE = 13
    GATEWAY_UNREACHABLE = 14
    MALFORMED_RESPONSE = 15
    GATEWAY_REFUSED = 16
    CERTIFICATE_REFUSED = 17
    SETTING_REFUSED = 18
    INTERRUPTED = 130


# Most specific first: IdentityMismatch and CertificateError are AuthenticationFailed.
_BY_ERROR: tuple[tuple[type[IkeClientError], ExitCode], ...] = (
    (ConfigError, ExitCode.CONFIG_ERROR),
    (SecretStoreError, ExitCode.SECRET_ERROR),
    (PrivilegeError, ExitCode.NO_PRIVILEGE),
    (IdentityMismatch, ExitCode.IDENTITY_MISMATCH),
    (CertificateError, ExitCode.CERTIFICATE_REFUSED),
    (AuthenticationFailed, ExitCode.AUTHENTICATION_FAILED),
    (NoProposalChosen, ExitCode.NO_PROPOSAL_CHOSEN),
    (InvalidKePayload, ExitCode.NO_PROPOSAL_CHOSEN),
    (TsUnacceptable, ExitCode.TS_UNACCEPTABLE),
    (GatewayUnreachable, ExitCode.GATEWAY_UNREACHABLE),
    (InvalidSyntax, ExitCode.MALFORMED_RESPONSE),
    (UnsupportedCriticalPayload, ExitCode.MALFORMED_RESPONSE),
    (SettingRefused, ExitCode.SETTING_REFUSED),
)


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit code for an error; ``GATEWAY_REFUSED`` for other errors the gateway reported."""
    for cls, code in _BY_ERROR:
        if isinstance(error, cls):
            return code
    if isinstance(error, RemoteProtocolError):
        return ExitCode.GATEWAY_REFUSED
    return ExitCode.INTERNAL_ERROR
