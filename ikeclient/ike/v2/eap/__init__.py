"""EAP inside IKEv2 (RFC 7296 §2.16), the client (peer) side; one sans-I/O module per method.

* :mod:`.packet`: the EAP packet codec (RFC 3748 §4);
* :mod:`.peer`: the conversation (Identity, Notification, Nak, Success/Failure);
* :mod:`.md5`: EAP-MD5-Challenge (RFC 3748 §5.4);
* :mod:`.mschapv2`: EAP-MSCHAPv2 (RFC 2759, RFC 3079 keys);
* :mod:`.tls`, :mod:`.tls_keys`: EAP-TLS (RFC 5216, RFC 9190) over ``ssl`` memory BIOs.
"""

from __future__ import annotations

from ikeclient.ike.v2.eap.peer import EAP_METHODS, EapPeer, EapResult, EapSettings, TlsClient

__all__ = ["EAP_METHODS", "EapPeer", "EapResult", "EapSettings", "TlsClient"]
