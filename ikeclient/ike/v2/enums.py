"""IANA registries of IKEv2 (https://www.iana.org/assignments/ikev2-parameters).

Values come from RFC 7296 §3 and the extensions that registered them (cited per
member where it is not RFC 7296).  Parsed wire values are never converted to
these enums when they may be unknown: payload fields stay ``int``, and code
compares them with the enum members (``IntEnum`` compares equal to ``int``).
Transform types and IDs live in :mod:`ikeclient.crypto.transforms`.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

__all__ = [
    "AuthMethod",
    "CertEncoding",
    "CfgType",
    "ConfigAttributeType",
    "ExchangeType",
    "HashAlgorithm",
    "HeaderFlag",
    "IdType",
    "NotifyType",
    "PayloadType",
    "ProtocolId",
    "TsType",
    "is_error",
]


class ExchangeType(IntEnum):
    """IKEv2 Exchange Types (RFC 7296 §3.1)."""

    IKE_SA_INIT = 34
    IKE_AUTH = 35
    CREATE_CHILD_SA = 36
    INFORMATIONAL = 37
    IKE_SESSION_RESUME = 38  # RFC 5723
    GSA_AUTH = 39  # G-IKEv2 (draft-ietf-ipsecme-g-ikev2)
    GSA_REGISTRATION = 40  # G-IKEv2 (draft-ietf-ipsecme-g-ikev2)
    GSA_REKEY = 41  # G-IKEv2 (draft-ietf-ipsecme-g-ikev2)
    IKE_INTERMEDIATE = 43  # RFC 9242
    IKE_FOLLOWUP_KE = 44  # RFC 9370


class PayloadType(IntEnum):
    """IKEv2 Payload Types (RFC 7296 §3.2); 1-32 are reserved (IKEv1)."""

    NONE = 0
    SA = 33
    KE = 34
    IDI = 35
    IDR = 36
    CERT = 37
    CERTREQ = 38
    AUTH = 39
    NONCE = 40
    NOTIFY = 41
    DELETE = 42
    VENDOR_ID = 43
    TSI = 44
    TSR = 45
    SK = 46
    CP = 47
    EAP = 48
    GSPM = 49  # RFC 6467
    IDG = 50  # G-IKEv2 (draft-ietf-ipsecme-g-ikev2)
    GSA = 51  # G-IKEv2 (draft-ietf-ipsecme-g-ikev2)
    KD = 52  # G-IKEv2 (draft-ietf-ipsecme-g-ikev2)
    SKF = 53  # RFC 7383
    PS = 54  # RFC 8019 (puzzle solution)


class HeaderFlag(IntFlag):
    """Flags octet of the IKE header (RFC 7296 §3.1); other bits are reserved."""

    INITIATOR = 0x08
    VERSION = 0x10
    RESPONSE = 0x20


class NotifyType(IntEnum):
    """Notify Message Types (RFC 7296 §3.10.1): errors below 16384, status above."""

    # Error types
    UNSUPPORTED_CRITICAL_PAYLOAD = 1
    INVALID_IKE_SPI = 4
    INVALID_MAJOR_VERSION = 5
    INVALID_SYNTAX = 7
    INVALID_MESSAGE_ID = 9
    INVALID_SPI = 11
    NO_PROPOSAL_CHOSEN = 14
    INVALID_KE_PAYLOAD = 17
    AUTHENTICATION_FAILED = 24
    SINGLE_PAIR_REQUIRED = 34
    NO_ADDITIONAL_SAS = 35
    INTERNAL_ADDRESS_FAILURE = 36
    FAILED_CP_REQUIRED = 37
    TS_UNACCEPTABLE = 38
    INVALID_SELECTORS = 39
    UNACCEPTABLE_ADDRESSES = 40  # RFC 4555
    UNEXPECTED_NAT_DETECTED = 41  # RFC 4555
    USE_ASSIGNED_HOA = 42  # RFC 5026
    TEMPORARY_FAILURE = 43
    CHILD_SA_NOT_FOUND = 44
    INVALID_GROUP_ID = 45  # G-IKEv2 (draft-ietf-ipsecme-g-ikev2)
    AUTHORIZATION_FAILED = 46  # G-IKEv2 (draft-ietf-ipsecme-g-ikev2)
    STATE_NOT_FOUND = 47  # RFC 9370
    # Status types
    INITIAL_CONTACT = 16384
    SET_WINDOW_SIZE = 16385
    ADDITIONAL_TS_POSSIBLE = 16386
    IPCOMP_SUPPORTED = 16387
    NAT_DETECTION_SOURCE_IP = 16388
    NAT_DETECTION_DESTINATION_IP = 16389
    COOKIE = 16390
    USE_TRANSPORT_MODE = 16391
    HTTP_CERT_LOOKUP_SUPPORTED = 16392
    REKEY_SA = 16393
    ESP_TFC_PADDING_NOT_SUPPORTED = 16394
    NON_FIRST_FRAGMENTS_ALSO = 16395
    MOBIKE_SUPPORTED = 16396  # RFC 4555
    ADDITIONAL_IP4_ADDRESS = 16397  # RFC 4555
    ADDITIONAL_IP6_ADDRESS = 16398  # RFC 4555
    NO_ADDITIONAL_ADDRESSES = 16399  # RFC 4555
    UPDATE_SA_ADDRESSES = 16400  # RFC 4555
    COOKIE2 = 16401  # RFC 4555
    NO_NATS_ALLOWED = 16402  # RFC 4555
    AUTH_LIFETIME = 16403  # RFC 4478
    MULTIPLE_AUTH_SUPPORTED = 16404  # RFC 4739
    ANOTHER_AUTH_FOLLOWS = 16405  # RFC 4739
    REDIRECT_SUPPORTED = 16406  # RFC 5685
    REDIRECT = 16407  # RFC 5685
    REDIRECTED_FROM = 16408  # RFC 5685
    TICKET_LT_OPAQUE = 16409  # RFC 5723
    TICKET_REQUEST = 16410  # RFC 5723
    TICKET_ACK = 16411  # RFC 5723
    TICKET_NACK = 16412  # RFC 5723
    TICKET_OPAQUE = 16413  # RFC 5723
    LINK_ID = 16414  # RFC 5739
    USE_WESP_MODE = 16415  # RFC 5840
    ROHC_SUPPORTED = 16416  # RFC 5857
    EAP_ONLY_AUTHENTICATION = 16417  # RFC 5998
    CHILDLESS_IKEV2_SUPPORTED = 16418  # RFC 6023
    QUICK_CRASH_DETECTION = 16419  # RFC 6290
    IKEV2_MESSAGE_ID_SYNC_SUPPORTED = 16420  # RFC 6311
    IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED = 16421  # RFC 6311
    IKEV2_MESSAGE_ID_SYNC = 16422  # RFC 6311
    IPSEC_REPLAY_COUNTER_SYNC = 16423  # RFC 6311
    SECURE_PASSWORD_METHODS = 16424  # RFC 6467
    PSK_PERSIST = 16425  # RFC 6631
    PSK_CONFIRM = 16426  # RFC 6631
    ERX_SUPPORTED = 16427  # RFC 6867
    IFOM_CAPABILITY = 16428  # 3GPP TS 24.303
    SENDER_REQUEST_ID = 16429  # draft-yeung-g-ikev2
    IKEV2_FRAGMENTATION_SUPPORTED = 16430  # RFC 7383
    SIGNATURE_HASH_ALGORITHMS = 16431  # RFC 7427
    CLONE_IKE_SA_SUPPORTED = 16432  # RFC 7791
    CLONE_IKE_SA = 16433  # RFC 7791
    PUZZLE = 16434  # RFC 8019
    USE_PPK = 16435  # RFC 8784
    PPK_IDENTITY = 16436  # RFC 8784
    NO_PPK_AUTH = 16437  # RFC 8784
    INTERMEDIATE_EXCHANGE_SUPPORTED = 16438  # RFC 9242
    IP4_ALLOWED = 16439  # RFC 8983
    IP6_ALLOWED = 16440  # RFC 8983
    ADDITIONAL_KEY_EXCHANGE = 16441  # RFC 9370
    USE_AGGFRAG = 16442  # RFC 9347
    SUPPORTED_AUTH_METHODS = 16443  # RFC 9593


_FIRST_STATUS_TYPE = 16384


def is_error(n: int) -> bool:
    """True for a Notify error type (0-16383), RFC 7296 §3.10.1."""
    return n < _FIRST_STATUS_TYPE


class IdType(IntEnum):
    """Identification payload ID Types (RFC 7296 §3.5)."""

    ID_IPV4_ADDR = 1
    ID_FQDN = 2
    ID_RFC822_ADDR = 3
    ID_IPV6_ADDR = 5
    ID_DER_ASN1_DN = 9
    ID_DER_ASN1_GN = 10
    ID_KEY_ID = 11
    ID_FC_NAME = 12  # RFC 4595
    ID_NULL = 13  # RFC 7619


class AuthMethod(IntEnum):
    """Authentication Methods (RFC 7296 §3.8 and extensions)."""

    RSA_SIG = 1
    SHARED_KEY_MIC = 2
    DSS_SIG = 3
    ECDSA_256 = 9  # RFC 4754
    ECDSA_384 = 10  # RFC 4754
    ECDSA_521 = 11  # RFC 4754
    GENERIC_SECURE_PASSWORD = 12  # RFC 6467
    NULL = 13  # RFC 7619
    DIGITAL_SIGNATURE = 14  # RFC 7427


class ProtocolId(IntEnum):
    """Security Protocol Identifiers (RFC 7296 §3.3.1)."""

    IKE = 1
    AH = 2
    ESP = 3


class TsType(IntEnum):
    """Traffic Selector Types (RFC 7296 §3.13.1)."""

    TS_IPV4_ADDR_RANGE = 7
    TS_IPV6_ADDR_RANGE = 8


class CfgType(IntEnum):
    """Configuration payload CFG Types (RFC 7296 §3.15)."""

    CFG_REQUEST = 1
    CFG_REPLY = 2
    CFG_SET = 3
    CFG_ACK = 4


class ConfigAttributeType(IntEnum):
    """Configuration Payload Attribute Types (RFC 7296 §3.15.1 and extensions)."""

    INTERNAL_IP4_ADDRESS = 1
    INTERNAL_IP4_NETMASK = 2
    INTERNAL_IP4_DNS = 3
    INTERNAL_IP4_NBNS = 4
    INTERNAL_IP4_DHCP = 6
    APPLICATION_VERSION = 7
    INTERNAL_IP6_ADDRESS = 8
    INTERNAL_IP6_DNS = 10
    INTERNAL_IP6_DHCP = 12
    INTERNAL_IP4_SUBNET = 13
    SUPPORTED_ATTRIBUTES = 14
    INTERNAL_IP6_SUBNET = 15
    P_CSCF_IP4_ADDRESS = 20  # RFC 7651
    P_CSCF_IP6_ADDRESS = 21  # RFC 7651
    INTERNAL_DNS_DOMAIN = 25  # RFC 8598
    INTERNAL_DNSSEC_TA = 26  # RFC 8598


class CertEncoding(IntEnum):
    """Certificate Encodings for CERT and CERTREQ (RFC 7296 §3.6)."""

    PKCS7_WRAPPED_X509 = 1
    PGP = 2
    DNS_SIGNED_KEY = 3
    X509_CERT_SIGNATURE = 4
    KERBEROS_TOKEN = 6
    CRL = 7
    ARL = 8
    SPKI = 9
    X509_CERT_ATTRIBUTE = 10
    RAW_RSA_KEY = 11  # deprecated by RFC 7296
    HASH_URL_X509_CERT = 12
    HASH_URL_X509_BUNDLE = 13
    OCSP_CONTENT = 14  # RFC 4806
    RAW_PUBLIC_KEY = 15  # RFC 7670


class HashAlgorithm(IntEnum):
    """Hash Algorithm Identifiers for SIGNATURE_HASH_ALGORITHMS (RFC 7427 §7)."""

    SHA1 = 1
    SHA2_256 = 2
    SHA2_384 = 3
    SHA2_512 = 4
    IDENTITY = 5  # RFC 8420
