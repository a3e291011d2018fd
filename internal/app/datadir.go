package app

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// dataSubdirs are what `up` keeps under the data directory.
var dataSubdirs = []string{"kafka", "clickhouse"}

// privateDataDir creates the data directory for the owner only and takes
// group and other permissions off what an older release left in it: the
// broker's log and ClickHouse's tables hold raw prompts and completions.
// The broker and the local ClickHouse keep their directories 0700 from
// then on (kfake still creates its files 0644 inside: the directory is
// what keeps others out; the process umask is left alone).
//
// A data directory that also holds files Sightline did not put there (say
// --data-dir /tmp) keeps its mode, with a warning; kafka/ and clickhouse/
// in it are made private all the same.
func privateDataDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create data directory %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("cannot read data directory %s: %w", dir, err)
	}
	ours := true
	for _, e := range entries {
		if e.Name() != dataSubdirs[0] && e.Name() != dataSubdirs[1] {
			ours = false
			break
		}
	}
	if ours {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("cannot restrict data directory %s: %w", dir, err)
		}
	} else if info, err := os.Stat(dir); err == nil && info.Mode().Perm()&0o077 != 0 {
		log.Warn("data directory holds other files too; leaving its mode alone (its kafka/ and clickhouse/ are private)",
			"data_dir", dir, "mode", fmt.Sprintf("%o", info.Mode().Perm()))
	}
	for _, sub := range dataSubdirs {
		if err := ownerOnly(filepath.Join(dir, sub)); err != nil {
			return err
		}
	}
	return nil
}

// ownerOnly clears the group and other bits of root and everything under
// it (symbolic links are left alone: chmod would follow them).
func ownerOnly(root string) error {
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			return os.Chmod(p, perm&^0o077)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot restrict data directory %s: %w", root, err)
	}
	return nil
}
