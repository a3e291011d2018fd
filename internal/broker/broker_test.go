package broker_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/internal/broker"
)

// The embedded broker keeps its log across a restart on the same port and
// data directory.
func TestLogSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	b, err := broker.Start(broker.Config{Port: -1, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	addrs := b.Addrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic(broker.TopicEvents))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < 50; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	b.Close()

	port, err := portOf(addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	b2, err := broker.Start(broker.Config{Port: port, DataDir: dir})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer b2.Close()
	cons, err := kgo.NewClient(kgo.SeedBrokers(b2.Addrs()...), kgo.ConsumeTopics(broker.TopicEvents), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	got := 0
	for got < 50 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of 50 records after restart", got)
		}
		got += fs.NumRecords()
	}
}

// readAll consumes topic from its first retained record up to the record
// whose value is last.
func readAll(t *testing.T, addrs []string, last string) []*kgo.Record {
	t.Helper()
	cons, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(broker.TopicEvents), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []*kgo.Record
	for {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d records, none with value %q", len(got), last)
		}
		for _, r := range fs.Records() {
			got = append(got, r)
			if string(r.Value) == last {
				return got
			}
		}
	}
}

func produce(t *testing.T, addrs []string, values ...string) {
	t.Helper()
	// Uncompressed, so a record's size on the log is its value's.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic(broker.TopicEvents),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, v := range values {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A log produced to sixteen times its byte limit keeps the newest records
// within the limit, and the data directory stays near the limit (plus one
// segment), across a restart too.
func TestRetentionBytesBoundsTheLog(t *testing.T) {
	dir := t.TempDir()
	const limit, seg, recordSize, n = 64 << 10, 8 << 10, 1 << 10, 1024
	cfg := broker.Config{Port: -1, DataDir: dir, Partitions: 1, Retention: -1, RetentionBytes: limit, RetentionCheckInterval: 20 * time.Millisecond}
	b, err := broker.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	values := make([]string, n)
	for i := range values {
		values[i] = fmt.Sprintf("%06d%s", i, strings.Repeat("x", recordSize-6))
	}
	produce(t, b.Addrs(), values...)
	// Log bytes, segment files and index files, kfake's state files; an
	// unbounded log would be over 1 MiB.
	const bound = limit + 2*seg + 64<<10
	deadline := time.Now().Add(10 * time.Second)
	for dirBytes(t, dir) > bound {
		if time.Now().After(deadline) {
			t.Fatalf("data directory holds %d bytes after producing %d; want at most %d", dirBytes(t, dir), n*recordSize, bound)
		}
		time.Sleep(20 * time.Millisecond)
	}
	check := func(addrs []string) {
		t.Helper()
		// Whole batches (one record each here) go, oldest first, until the
		// rest fits: about limit/recordSize records are left. The byte
		// bound on the directory can hold before the last check ran, so
		// wait for the record count too.
		got := readAll(t, addrs, values[n-1])
		for deadline := time.Now().Add(10 * time.Second); len(got) > limit/recordSize && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			got = readAll(t, addrs, values[n-1])
		}
		if len(got) < limit/recordSize*3/4 || len(got) > limit/recordSize {
			t.Fatalf("%d records left (from offset %d), want about %d", len(got), got[0].Offset, limit/recordSize)
		}
		if got[0].Offset != int64(n-len(got)) {
			t.Fatalf("first record left has offset %d, want %d: retention must keep the newest", got[0].Offset, n-len(got))
		}
	}
	t.Logf("%d bytes produced, data directory %d bytes", n*recordSize, dirBytes(t, dir))
	check(b.Addrs())
	b.Close()
	if size := dirBytes(t, dir); size > bound {
		t.Fatalf("data directory holds %d bytes after Close; want at most %d", size, bound)
	}
	port, err := portOf(b.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	cfg.Port = port
	b2, err := broker.Start(cfg)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer b2.Close()
	check(b2.Addrs())
}

// Records older than the retention time are dropped; newer ones stay.
func TestRetentionTimeDropsOldRecords(t *testing.T) {
	const retention = 2 * time.Second
	b, err := broker.Start(broker.Config{Port: -1, DataDir: t.TempDir(), Partitions: 1, Retention: retention, RetentionCheckInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	produce(t, b.Addrs(), "old-1", "old-2", "old-3")
	time.Sleep(retention + 500*time.Millisecond)
	produce(t, b.Addrs(), "new-1", "new-2")
	var values []string
	for _, r := range readAll(t, b.Addrs(), "new-2") {
		values = append(values, string(r.Value))
	}
	if strings.Join(values, ",") != "new-1,new-2" {
		t.Fatalf("read %v after retention, want [new-1 new-2]", values)
	}
}

// The data directory is the owner's only, even one an older release
// created world-readable.
func TestDataDirIsOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kafka")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := broker.Start(broker.Config{Port: -1, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	produce(t, b.Addrs(), "a prompt")
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o700 {
		t.Fatalf("data directory mode %o, want 700", info.Mode().Perm())
	}
}
