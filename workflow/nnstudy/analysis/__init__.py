"""From run folders to tables: the aggregate tables and their statistics."""
