"""Phone numbers: parsing to E.164, the DNC bitmap key, candidate time zones."""

from callguard.numbers.location import Location, parse_location, state_for_zip, zones_for_state
from callguard.numbers.nanp import ExchangeInfo, NanpTable, exchange_info_from_phonenumbers
from callguard.numbers.parse import NumberInfo, NumberParser, ascii_digits, is_canonical

__all__ = [
    "ExchangeInfo",
    "Location",
    "NanpTable",
    "NumberInfo",
    "NumberParser",
    "ascii_digits",
    "exchange_info_from_phonenumbers",
    "is_canonical",
    "parse_location",
    "state_for_zip",
    "zones_for_state",
]
