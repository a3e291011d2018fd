package chlocal

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMissingBinaryIsAClearError(t *testing.T) {
	_, err := Start(context.Background(), Config{Dir: t.TempDir(), Binary: "/nonexistent/clickhouse-server"})
	if err == nil {
		t.Fatal("started a nonexistent binary")
	}
	if _, err := Start(context.Background(), Config{}); err == nil {
		t.Fatal("started without a directory")
	}
	for _, want := range []string{"apt-get install clickhouse-server", "--clickhouse-addr"} {
		if !strings.Contains(ErrNotInstalled.Error(), want) {
			t.Fatalf("ErrNotInstalled must tell the user how to install or point elsewhere; it lacks %q", want)
		}
	}
}

func TestStartAnswersAndStops(t *testing.T) {
	if _, err := FindBinary(); err != nil {
		t.Fatalf("clickhouse-server is required by the suite (make test installs it): %v", err)
	}
	s, err := Start(context.Background(), Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("server still running after Close")
	}
}

// Everything under the directory is the owner's only, including what an
// older release left group- and world-readable and what the server itself
// writes (data, metadata, logs).
func TestFilesAreOwnerOnly(t *testing.T) {
	if _, err := FindBinary(); err != nil {
		t.Fatalf("clickhouse-server is required by the suite (make test installs it): %v", err)
	}
	dir := filepath.Join(t.TempDir(), "ch")
	for _, d := range []string{dir, filepath.Join(dir, "log")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Start(context.Background(), Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	files := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir() && info.Mode().Perm() != 0o700:
			t.Errorf("%s: directory mode %o, want 700", p, info.Mode().Perm())
		case info.Mode().IsRegular():
			files++
			if info.Mode().Perm() != 0o600 {
				t.Errorf("%s: file mode %o, want 600", p, info.Mode().Perm())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The server's own files: status, metadata, preprocessed configs, logs.
	if files < 5 {
		t.Fatalf("only %d files under %s: the server wrote nothing to check", files, dir)
	}
}
