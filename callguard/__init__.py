"""callguard: a telemarketing-law compliance gate in the outbound call path."""

__version__ = "0.1.0"
