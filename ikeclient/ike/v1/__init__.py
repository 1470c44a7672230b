"""IKEv1 (RFC 2409): ISAKMP codec, Main/Aggressive Mode with PSK, XAUTH, Mode Config, Quick
Mode, NAT-T (RFC 3947) and DPD (RFC 3706). Its own states and enums; the same events as v2."""
