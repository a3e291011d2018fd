package app

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

// What an older release left world-readable becomes the owner's only; a
// symbolic link's target and a directory shared with other files keep
// their modes.
func TestPrivateDataDir(t *testing.T) {
	root := t.TempDir()
	outside := filepath.Join(root, "outside")
	if err := os.WriteFile(outside, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "data")
	for _, d := range []string{dir, filepath.Join(dir, "kafka", "sightline.events-0"), filepath.Join(dir, "clickhouse", "data")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := []string{filepath.Join(dir, "kafka", "sightline.events-0", "0.dat"), filepath.Join(dir, "clickhouse", "config.xml")}
	for _, f := range files {
		if err := os.WriteFile(f, []byte("a prompt"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, "clickhouse", "data", "link")); err != nil {
		t.Fatal(err)
	}
	if err := privateDataDir(dir, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Join(dir, "kafka"), filepath.Join(dir, "kafka", "sightline.events-0"), filepath.Join(dir, "clickhouse", "data")} {
		if m := mode(t, d); m != 0o700 {
			t.Errorf("%s: mode %o, want 700", d, m)
		}
	}
	for _, f := range files {
		if m := mode(t, f); m != 0o600 {
			t.Errorf("%s: mode %o, want 600", f, m)
		}
	}
	if m := mode(t, outside); m != 0o644 {
		t.Errorf("a symbolic link's target changed mode to %o", m)
	}

	// --data-dir pointing at a directory with other things in it.
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "kafka"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := privateDataDir(root, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, root); m != 0o755 {
		t.Errorf("a shared directory's mode changed to %o", m)
	}
	if m := mode(t, filepath.Join(root, "kafka")); m != 0o700 {
		t.Errorf("kafka/ in a shared directory: mode %o, want 700", m)
	}

	fresh := filepath.Join(root, "fresh", "data")
	if err := privateDataDir(fresh, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, fresh); m != 0o700 {
		t.Errorf("new data directory: mode %o, want 700", m)
	}
}
