"""Phone numbers: parsing to E.164, the DNC bitmap key, candidate time zones."""

from callguard.numbers.location import Location, parse_location, state_for_zip, zones_for_state
from callguard.numbers.nanp import ExchangeInfo, NanpTable, exchange_info_from_phonenumbers
from callguard.numbers.parse import NumberInfo, NumberParser

__all__ = [
    "ExchangeInfo",
    "Location",
    "NanpTable",
    "NumberInfo",
    "NumberParser",
    "exchange_info_from_phonenumbers",
    "parse_location",
    "state_for_zip",
    "zones_for_state",
]
