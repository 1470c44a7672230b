"""Cryptographic suites for IKEv2, keyed by IANA transform ID.

PRFs and prf+ (RFC 7296 §2.13), integrity algorithms, SK payload ciphers
(RFC 7296 §3.14), key exchange methods and key derivation (§2.14, §2.17,
§2.18). Everything comes from ``cryptography`` and the stdlib; this package
does no I/O and reads no clock.
"""

# Import the submodules themselves (ikeclient.crypto.prf, .encr, ...): this package imports
# nothing on its own, so a codec that needs only the IANA numbers stays cheap to load.
