SELECT partition_key FROM system.tables WHERE database = currentDatabase() AND name = ?
