"""Phone calls: numbers that reach an agent (inbound), outbound calls and campaigns.

LiveKit provides the SIP layer; ``sip`` is the only module here that talks to it.
"""
