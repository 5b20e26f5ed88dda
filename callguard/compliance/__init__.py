"""The compliance log beyond the record itself: sinks, reading, reports, retention."""
