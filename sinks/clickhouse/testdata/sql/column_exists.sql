SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = ? AND name = ?
