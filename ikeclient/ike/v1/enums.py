"""IANA "Internet Security Association and Key Management Protocol (ISAKMP) Identifiers" and
"IPSEC DOI" registries used by IKEv1, as ``IntEnum``s of their own.

Sources: RFC 2408 §3 (ISAKMP), RFC 2407 §4 (IPsec DOI), RFC 2409 Appendix A (Oakley
attributes), RFC 3947 (NAT-T), RFC 3706 (DPD), draft-dukes-ike-mode-cfg-02 and
draft-beaulieu-ike-xauth-02 (Mode Config, XAUTH), Cisco Unity attribute numbers as
strongSwan and vpnc use them. Numbers read from the wire stay plain ints; compare them with
these enums. Nothing here is shared with IKEv2 (its numbers differ).
"""

from __future__ import annotations

from enum import IntEnum, IntFlag


class ExchangeType(IntEnum):
    """ISAKMP exchange types (RFC 2408 §3.1, RFC 2409 §5, mode-cfg §3.1)."""

    BASE = 1
    IDENTITY_PROTECTION = 2  # Main Mode
    AUTHENTICATION_ONLY = 3
    AGGRESSIVE = 4
    INFORMATIONAL = 5
    TRANSACTION = 6  # Mode Config / XAUTH
    QUICK = 32
    NEW_GROUP = 33


class PayloadType(IntEnum):
    """ISAKMP Next Payload types (RFC 2408 §3.1, RFC 3947 §3, draft NAT-T numbers)."""

    NONE = 0
    SA = 1
    PROPOSAL = 2
    TRANSFORM = 3
    KE = 4
    ID = 5
    CERT = 6
    CR = 7
    HASH = 8
    SIG = 9
    NONCE = 10
    NOTIFICATION = 11
    DELETE = 12
    VENDOR_ID = 13
    ATTRIBUTE = 14  # Mode Config / XAUTH (draft-dukes-ike-mode-cfg §3.2)
    NAT_D = 20  # RFC 3947 §3.1
    NAT_OA = 21  # RFC 3947 §5.1
    NAT_D_DRAFT = 130  # draft-ietf-ipsec-nat-t-ike-02/03
    NAT_OA_DRAFT = 131
    FRAGMENT = 132  # Cisco/strongSwan IKEv1 fragmentation


class HeaderFlag(IntFlag):
    """ISAKMP header flags (RFC 2408 §3.1)."""

    ENCRYPTION = 0x01
    COMMIT = 0x02
    AUTHENTICATION_ONLY = 0x04


class Doi(IntEnum):
    """Domain of Interpretation (RFC 2408 §3.4, RFC 2407 §4.2)."""

    ISAKMP = 0
    IPSEC = 1


class Situation(IntEnum):
    """IPsec DOI situation bits (RFC 2407 §4.2)."""

    SIT_IDENTITY_ONLY = 1


class ProtocolId(IntEnum):
    """IPsec DOI protocol identifiers (RFC 2407 §4.4.1)."""

    ISAKMP = 1
    IPSEC_AH = 2
    IPSEC_ESP = 3
    IPCOMP = 4


class IsakmpTransformId(IntEnum):
    """Transform IDs of the ISAKMP protocol (RFC 2407 §4.4.2)."""

    KEY_IKE = 1


class EspTransformId(IntEnum):
    """IPsec ESP transform identifiers (RFC 2407 §4.4.4, IANA; same numbers as IKEv2 ENCR)."""

    DES = 2
    TRIPLE_DES = 3
    NULL = 11
    AES_CBC = 12
    AES_CTR = 13
    AES_CCM_8 = 14
    AES_CCM_12 = 15
    AES_CCM_16 = 16
    AES_GCM_8 = 18
    AES_GCM_12 = 19
    AES_GCM_16 = 20


class Phase1Attribute(IntEnum):
    """Oakley SA attribute classes (RFC 2409 Appendix A)."""

    ENCRYPTION_ALGORITHM = 1
    HASH_ALGORITHM = 2
    AUTHENTICATION_METHOD = 3
    GROUP_DESCRIPTION = 4
    GROUP_TYPE = 5
    GROUP_PRIME = 6
    GROUP_GENERATOR_ONE = 7
    GROUP_GENERATOR_TWO = 8
    GROUP_CURVE_A = 9
    GROUP_CURVE_B = 10
    LIFE_TYPE = 11
    LIFE_DURATION = 12
    PRF = 13
    KEY_LENGTH = 14
    FIELD_SIZE = 15
    GROUP_ORDER = 16


class Phase1Encryption(IntEnum):
    """Oakley encryption algorithms (RFC 2409 Appendix A, RFC 3602 §5 for AES)."""

    DES_CBC = 1
    IDEA_CBC = 2
    BLOWFISH_CBC = 3
    RC5_R16_B64_CBC = 4
    TRIPLE_DES_CBC = 5
    CAST_CBC = 6
    AES_CBC = 7
    CAMELLIA_CBC = 8


class HashAlgorithm(IntEnum):
    """Oakley hash algorithms (RFC 2409 Appendix A, RFC 4868 §... IANA)."""

    MD5 = 1
    SHA = 2
    TIGER = 3
    SHA2_256 = 4
    SHA2_384 = 5
    SHA2_512 = 6


class AuthMethod(IntEnum):
    """Oakley authentication methods (RFC 2409 Appendix A; XAUTH: draft-beaulieu §7.2)."""

    PRE_SHARED_KEY = 1
    DSS_SIGNATURES = 2
    RSA_SIGNATURES = 3
    RSA_ENCRYPTION = 4
    RSA_REVISED_ENCRYPTION = 5
    ECDSA_SHA256_P256 = 9
    ECDSA_SHA384_P384 = 10
    ECDSA_SHA512_P521 = 11
    HYBRID_INIT_RSA = 64221
    HYBRID_RESP_RSA = 64222
    XAUTH_INIT_PRE_SHARED = 65001
    XAUTH_RESP_PRE_SHARED = 65002
    XAUTH_INIT_RSA = 65005
    XAUTH_RESP_RSA = 65006


class LifeType(IntEnum):
    """SA life types (RFC 2409 Appendix A; RFC 2407 §4.5 uses the same values)."""

    SECONDS = 1
    KILOBYTES = 2


class Phase2Attribute(IntEnum):
    """IPsec DOI SA attributes (RFC 2407 §4.5)."""

    SA_LIFE_TYPE = 1
    SA_LIFE_DURATION = 2
    GROUP_DESCRIPTION = 3
    ENCAPSULATION_MODE = 4
    AUTHENTICATION_ALGORITHM = 5
    KEY_LENGTH = 6
    KEY_ROUNDS = 7
    COMPRESS_DICTIONARY_SIZE = 8
    COMPRESS_PRIVATE_ALGORITHM = 9
    ECN_TUNNEL = 10
    EXTENDED_SEQUENCE_NUMBER = 11


class EncapsulationMode(IntEnum):
    """Encapsulation modes (RFC 2407 §4.5, RFC 3947 §5.2 and the draft numbers)."""

    TUNNEL = 1
    TRANSPORT = 2
    UDP_TUNNEL = 3
    UDP_TRANSPORT = 4
    UDP_TUNNEL_DRAFT = 61443
    UDP_TRANSPORT_DRAFT = 61444


class EspAuthAlgorithm(IntEnum):
    """IPsec DOI authentication algorithms (RFC 2407 §4.5, RFC 4868 §... IANA)."""

    HMAC_MD5 = 1
    HMAC_SHA = 2
    DES_MAC = 3
    KPDK = 4
    HMAC_SHA2_256 = 5
    HMAC_SHA2_384 = 6
    HMAC_SHA2_512 = 7
    HMAC_RIPEMD = 8
    AES_XCBC_MAC = 9


class IdType(IntEnum):
    """IPsec DOI identification types (RFC 2407 §4.6.2.1)."""

    ID_IPV4_ADDR = 1
    ID_FQDN = 2
    ID_USER_FQDN = 3
    ID_IPV4_ADDR_SUBNET = 4
    ID_IPV6_ADDR = 5
    ID_IPV6_ADDR_SUBNET = 6
    ID_IPV4_ADDR_RANGE = 7
    ID_IPV6_ADDR_RANGE = 8
    ID_DER_ASN1_DN = 9
    ID_DER_ASN1_GN = 10
    ID_KEY_ID = 11


class NotifyType(IntEnum):
    """ISAKMP notify message types (RFC 2408 §3.14.1, RFC 2407 §4.6.3, RFC 3706)."""

    INVALID_PAYLOAD_TYPE = 1
    DOI_NOT_SUPPORTED = 2
    SITUATION_NOT_SUPPORTED = 3
    INVALID_COOKIE = 4
    INVALID_MAJOR_VERSION = 5
    INVALID_MINOR_VERSION = 6
    INVALID_EXCHANGE_TYPE = 7
    INVALID_FLAGS = 8
    INVALID_MESSAGE_ID = 9
    INVALID_PROTOCOL_ID = 10
    INVALID_SPI = 11
    INVALID_TRANSFORM_ID = 12
    ATTRIBUTES_NOT_SUPPORTED = 13
    NO_PROPOSAL_CHOSEN = 14
    BAD_PROPOSAL_SYNTAX = 15
    PAYLOAD_MALFORMED = 16
    INVALID_KEY_INFORMATION = 17
    INVALID_ID_INFORMATION = 18
    INVALID_CERT_ENCODING = 19
    INVALID_CERTIFICATE = 20
    CERT_TYPE_UNSUPPORTED = 21
    INVALID_CERT_AUTHORITY = 22
    INVALID_HASH_INFORMATION = 23
    AUTHENTICATION_FAILED = 24
    INVALID_SIGNATURE = 25
    ADDRESS_NOTIFICATION = 26
    NOTIFY_SA_LIFETIME = 27
    CERTIFICATE_UNAVAILABLE = 28
    UNSUPPORTED_EXCHANGE_TYPE = 29
    UNEQUAL_PAYLOAD_LENGTHS = 30
    CONNECTED = 16384
    RESPONDER_LIFETIME = 24576
    REPLAY_STATUS = 24577
    INITIAL_CONTACT = 24578
    R_U_THERE = 36136
    R_U_THERE_ACK = 36137


ERROR_NOTIFY_MAX = 16383
"""Notify types 1..16383 report errors (RFC 2408 §3.14.1)."""


class CfgType(IntEnum):
    """Attribute payload message types (draft-dukes-ike-mode-cfg-02 §3.2)."""

    REQUEST = 1
    REPLY = 2
    SET = 3
    ACK = 4


class ConfigAttribute(IntEnum):
    """Mode Config, XAUTH and Cisco Unity attribute types.

    1-15: draft-dukes-ike-mode-cfg-02 §3.2; 16520-16527: draft-beaulieu-ike-xauth-02 §6;
    28672-28683: Cisco Unity (as implemented by strongSwan's unity plugin and vpnc).
    """

    INTERNAL_IP4_ADDRESS = 1
    INTERNAL_IP4_NETMASK = 2
    INTERNAL_IP4_DNS = 3
    INTERNAL_IP4_NBNS = 4
    INTERNAL_ADDRESS_EXPIRY = 5
    INTERNAL_IP4_DHCP = 6
    APPLICATION_VERSION = 7
    INTERNAL_IP6_ADDRESS = 8
    INTERNAL_IP6_NETMASK = 9
    INTERNAL_IP6_DNS = 10
    INTERNAL_IP6_NBNS = 11
    INTERNAL_IP6_DHCP = 12
    INTERNAL_IP4_SUBNET = 13
    SUPPORTED_ATTRIBUTES = 14
    INTERNAL_IP6_SUBNET = 15
    XAUTH_TYPE = 16520
    XAUTH_USER_NAME = 16521
    XAUTH_USER_PASSWORD = 16522
    XAUTH_PASSCODE = 16523
    XAUTH_MESSAGE = 16524
    XAUTH_CHALLENGE = 16525
    XAUTH_DOMAIN = 16526
    XAUTH_STATUS = 16527
    XAUTH_NEXT_PIN = 16528
    XAUTH_ANSWER = 16529
    UNITY_BANNER = 28672
    UNITY_SAVE_PASSWD = 28673
    UNITY_DEF_DOMAIN = 28674
    UNITY_SPLITDNS_NAME = 28675
    UNITY_SPLIT_INCLUDE = 28676
    UNITY_NATT_PORT = 28677
    UNITY_LOCAL_LAN = 28678
    UNITY_PFS = 28679
    UNITY_FW_TYPE = 28680
    UNITY_BACKUP_SERVERS = 28681
    UNITY_DDNS_HOSTNAME = 28682


class XauthStatus(IntEnum):
    """XAUTH_STATUS values (draft-beaulieu-ike-xauth-02 §6.2)."""

    FAIL = 0
    OK = 1


class CertEncoding(IntEnum):
    """Certificate encodings (RFC 2408 §3.9)."""

    PKCS7 = 1
    PGP = 2
    DNS_SIGNED_KEY = 3
    X509_SIGNATURE = 4
    X509_KEY_EXCHANGE = 5
    KERBEROS = 6
    CRL = 7
    ARL = 8
    SPKI = 9
    X509_ATTRIBUTE = 10


# Vendor IDs (the MD5 hashes gateways look for).
VID_NAT_T_RFC3947 = bytes.fromhex("4a131c81070358455c5728f20e95452f")
VID_NAT_T_DRAFT_02 = bytes.fromhex("cd60464335df21f87cfdb2fc68b6a448")
VID_NAT_T_DRAFT_02_N = bytes.fromhex("90cb80913ebb696e086381b5ec427b1f")
VID_NAT_T_DRAFT_03 = bytes.fromhex("7d9419a65310ca6f2c179d9215529d56")
VID_DPD = bytes.fromhex("afcad71368a1f1c96b8696fc77570100")  # RFC 3706 §... (DPD 1.0)
VID_XAUTH = bytes.fromhex("09002689dfd6b712")  # draft-beaulieu-ike-xauth
VID_CISCO_UNITY = bytes.fromhex("12f5f28c457168a9702d9fe274cc0100")
VID_FRAGMENTATION = bytes.fromhex("4048b7d56ebce88525e7de7f00d6c2d3")

NAT_T_VIDS = (VID_NAT_T_RFC3947, VID_NAT_T_DRAFT_03, VID_NAT_T_DRAFT_02_N, VID_NAT_T_DRAFT_02)
