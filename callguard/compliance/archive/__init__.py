"""The archive: closed log segments (or the stream) as day-partitioned Parquet, queried
with DuckDB."""
