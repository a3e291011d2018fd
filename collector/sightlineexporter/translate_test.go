package sightlineexporter

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/proto"

	"github.com/sightline-dev/sightline/schemas"
	"github.com/sightline-dev/sightline/schemas/eventpb"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// goldenDoc is what a golden file holds: the events of one input, in the
// JSON form of the contract, and the exporter's counters.
type goldenDoc struct {
	Events []*schemas.JSONEvent `json:"events"`
	Stats  Stats                `json:"stats"`
}

func newTestTranslator(t testing.TB) (*translator, *telemetry) {
	t.Helper()
	tel, err := newTelemetry(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &translator{tel: tel}, tel
}

func translateFile(t testing.TB, path string) ([]*eventpb.Event, *telemetry) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tr, tel := newTestTranslator(t)
	if strings.Contains(path, string(filepath.Separator)+"logs"+string(filepath.Separator)) {
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(b)
		if err != nil {
			t.Fatalf("cannot parse %s: %v", path, err)
		}
		return tr.logs(ld, nil), tel
	}
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(b)
	if err != nil {
		t.Fatalf("cannot parse %s: %v", path, err)
	}
	return tr.traces(td, nil), tel
}

// TestGolden maps each span or log dump under testdata/traces and
// testdata/logs (OTLP JSON, as the collector's file exporter writes it) and
// compares the events with testdata/golden. Run with -update to rewrite.
func TestGolden(t *testing.T) {
	inputs, _ := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	n := 0
	for _, in := range inputs {
		dir := filepath.Base(filepath.Dir(in))
		if dir != "traces" && dir != "logs" {
			continue
		}
		n++
		name := dir + "_" + filepath.Base(in)
		t.Run(name, func(t *testing.T) {
			evs, tel := translateFile(t, in)
			doc := goldenDoc{Stats: tel.stats()}
			for _, ev := range evs {
				// What the exporter produces must pass the score stage's
				// decoder unchanged.
				b, err := proto.Marshal(ev)
				if err != nil {
					t.Fatalf("cannot encode event: %v", err)
				}
				dec, err := schemas.Decode(b)
				if err != nil {
					t.Fatalf("score stage would reject the event: %v", err)
				}
				if !proto.Equal(dec, ev) {
					t.Fatalf("event changed in decoding")
				}
				// The exporter's own encoding (attributes appended by
				// hand) decodes to the same event.
				own, err := marshalEvent(nil, ev)
				if err != nil {
					t.Fatalf("marshalEvent: %v", err)
				}
				if dec, err := schemas.Decode(own); err != nil || !proto.Equal(dec, ev) {
					t.Fatalf("marshalEvent output does not decode to the event: %v", err)
				}
				doc.Events = append(doc.Events, schemas.ToJSON(ev))
			}
			got, err := json.MarshalIndent(doc, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", "golden", name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("cannot read golden file (run with -update to create it): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file (run with -update after checking the change):\n%s", in, diffLines(string(want), string(got)))
			}
		})
	}
	if n == 0 {
		t.Fatal("no inputs under testdata/traces or testdata/logs")
	}
}

// diffLines shows the first differing lines.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl + "\n")
			if shown++; shown == 10 {
				break
			}
		}
	}
	return b.String()
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
