package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/eventfeatures"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// TestMain stops the ClickHouse the lifecycle commands' tests start.
func TestMain(m *testing.M) { testenv.Main(m) }

// forget, export and retention from the command line against a real
// ClickHouse: export writes the user's calls to a private file, forget
// deletes them and says it verified it, retention deletes the calls older
// than the configured limit and prints it.
func TestLifecycleCommands(t *testing.T) {
	conn, opts := testenv.Database(t)
	ctx := context.Background()
	now := time.Now().UTC()
	var rows []chsink.EventRow
	for i, c := range []struct {
		user string
		age  time.Duration
	}{{"u-1", time.Hour}, {"u-1", 50 * 24 * time.Hour}, {"u-2", time.Hour}, {"u-2", 100 * 24 * time.Hour}} {
		ev := &eventpb.Event{SchemaVersion: 1, EventId: "0190c8e4-5a2b-7c3d-8e4f-00000000000" + string(rune('0'+i)), Tenant: "acme", App: "a",
			Model: "m", UserId: c.user, Ts: timestamppb.New(now.Add(-c.age)), Prompt: []*eventpb.Message{{Role: "user", Content: "hi"}}}
		rows = append(rows, chsink.EventRow{Event: ev, Features: eventfeatures.Compute(ev)})
	}
	testenv.Must(t, chsink.InsertEvents(ctx, conn, rows), "insert")
	ch := []string{"--clickhouse-addr", opts.Addrs[0], "--clickhouse-database", opts.Database}
	dir := t.TempDir()

	out := filepath.Join(dir, "u-1.jsonl")
	_, stderr, err := run(t, append([]string{"export", "--tenant", "acme", "--user-id", "u-1", "--out", out}, ch...)...)
	testenv.Must(t, err, "export")
	b, err := os.ReadFile(out)
	testenv.Must(t, err, "read export")
	st, _ := os.Stat(out)
	if n := strings.Count(string(b), `{"table":"llm_events"`); n != 2 || st.Mode().Perm() != 0o600 || !strings.Contains(stderr, "llm_events") {
		t.Fatalf("export file (%v) has %d calls:\n%s\nstderr: %s", st.Mode(), n, b, stderr)
	}
	if _, _, err := run(t, append([]string{"export", "--tenant", "acme", "--user-id", "u-1", "--out", out}, ch...)...); err == nil ||
		!strings.Contains(err.Error(), "cannot create export file") {
		t.Fatalf("export over an existing file: %v", err)
	}

	stdout, _, err := run(t, append([]string{"forget", "--tenant", "acme", "--user-id", "u-1"}, ch...)...)
	testenv.Must(t, err, "forget")
	if !strings.Contains(stdout, "verified: no row of this user is left") || !strings.Contains(stdout, "llm_events") ||
		strings.Contains(stdout, "u-1") {
		t.Fatalf("forget printed:\n%s", stdout)
	}
	var left uint64
	testenv.Must(t, conn.QueryRow(ctx, "SELECT count() FROM llm_events WHERE user_id = 'u-1'").Scan(&left), "count")
	if left != 0 {
		t.Fatalf("%d calls of u-1 left", left)
	}

	cfg := filepath.Join(dir, "sightline.yaml")
	testenv.Must(t, os.WriteFile(cfg, []byte("retention:\n  default: 30d\n"), 0o600), "config")
	stdout, _, err = run(t, append([]string{"retention", "--config", cfg}, ch...)...)
	testenv.Must(t, err, "retention")
	var kept uint64
	testenv.Must(t, conn.QueryRow(ctx, "SELECT count() FROM llm_events").Scan(&kept), "count")
	if kept != 1 || !strings.Contains(stdout, "llm_events") {
		t.Fatalf("retention kept %d calls (want u-2's recent one), printed:\n%s", kept, stdout)
	}

	for _, args := range [][]string{{"forget", "--tenant", "acme"}, {"export", "--user-id", "u"}} {
		if _, _, err := run(t, args...); err == nil || !strings.Contains(err.Error(), "required flag") {
			t.Errorf("%v: %v", args, err)
		}
	}
}
