// Package devdata locates the labeled development data (../shared/data beside
// the repository) that detector training and quality tests read. The data is
// never committed to the repository.
package devdata

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// EnvDir overrides the data directory.
const EnvDir = "SIGHTLINE_DATA_DIR"

// Dir returns the directory holding the *.dev.jsonl files: $SIGHTLINE_DATA_DIR
// if set, else ../shared/data relative to the module root found by walking up
// from the working directory.
func Dir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			dir := filepath.Join(d, "..", "shared", "data")
			if _, err := os.Stat(dir); err != nil {
				return "", errors.New("development data not found at " + dir + " (set " + EnvDir + ")")
			}
			return filepath.Clean(dir), nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("cannot find module root above " + wd)
		}
	}
}

// Path returns the path of one data file, e.g. "toxicity.dev.jsonl".
func Path(name string) (string, error) {
	d, err := Dir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(d, name)
	if _, err := os.Stat(p); err != nil {
		return "", errors.New("development data file " + p + " is absent")
	}
	return p, nil
}

// Require returns the path of a data file or skips the test with a clear
// message saying what is missing.
func Require(tb testing.TB, name string) string {
	tb.Helper()
	p, err := Path(name)
	if err != nil {
		tb.Skipf("skipping: %v; this test needs the labeled dev data in ../shared/data", err)
	}
	return p
}
