package schemas_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// protos are the schemas' protobuf definitions and the Go code generated
// from each (make generate).
var protos = map[string]string{
	"sightline/event/v1/event.proto":    "eventpb/event.pb.go",
	"sightline/window/v1/partial.proto": "windowpb/partial.pb.go",
}

// TestGeneratedCodeIsCurrent regenerates the Go code of every .proto with
// the protoc of the OS packages (make test installs it) and this module's
// protoc-gen-go, and fails when the committed code differs: a .proto
// edited without `make generate`.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		t.Skip("protoc is not installed (make test installs protobuf-compiler): cannot check the generated code")
	}
	dir := t.TempDir()
	plugin := filepath.Join(dir, "protoc-gen-go")
	if out, err := exec.Command("go", "build", "-o", plugin, "google.golang.org/protobuf/cmd/protoc-gen-go").CombinedOutput(); err != nil {
		t.Fatalf("cannot build protoc-gen-go: %v\n%s", err, out)
	}
	args := []string{"--plugin=protoc-gen-go=" + plugin, "-I", "proto", "--go_out=" + dir,
		"--go_opt=module=github.com/sightline-dev/sightline/schemas"}
	for p := range protos {
		args = append(args, filepath.Join("proto", p))
	}
	if out, err := exec.Command(protoc, args...).CombinedOutput(); err != nil {
		t.Fatalf("protoc: %v\n%s", err, out)
	}
	for p, gen := range protos {
		want, err := os.ReadFile(filepath.Join(dir, gen))
		if err != nil {
			t.Fatalf("%s generated nothing at %s: %v", p, gen, err)
		}
		got, err := os.ReadFile(gen)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("schemas/%s is stale: run make generate after editing schemas/proto/%s", gen, p)
		}
	}
}
