package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/internal/server"
	"github.com/sightline-dev/sightline/internal/testenv"
)

// TestIngestMemory sends what overran the ingest endpoint before it had
// bounds, 8 concurrent 30 MB POSTs and then 8 concurrent 100k-event
// arrays, and checks that the live heap grows by at most
// ingest.max_inflight_bytes beyond the broker's copy of the events.
// Client, server and the in-process broker share this process: the
// broker keeps every record (snappy-compressed; the content repeats), and
// that copy is what is still live after the load and a GC ("retained").
// Figures: go test ./internal/server -run TestIngestMemory -v
// (before the bounds, at 32 MiB per body and no other cap: heap peak
// +879 / +1045 MiB, live peak +406 / +510 MiB, RSS peak +1104 / +1156 MiB).
func TestIngestMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 480 MB of JSON")
	}
	b := testenv.Broker(t, "")
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ProducerBatchMaxBytes(16<<20))
	testenv.Must(t, err, "producer")
	defer prod.Close()
	// The loads need a larger body and more events per request than the
	// defaults allow (they would be refused at once with 413); the
	// concurrency and in-flight bytes are the defaults.
	ingest := server.IngestConfig{MaxBodyBytes: 32 << 20, MaxEventsPerRequest: 100_000}
	cfg := server.Config{Addr: "127.0.0.1:0", Gatherer: prometheus.NewRegistry(), Producer: prod, Topic: "sightline.events", Ingest: ingest}
	s, err := server.Start(cfg)
	testenv.Must(t, err, "start")
	defer s.Close(t.Context())
	url := "http://" + s.Addr() + "/v1/events"

	big, nBig := bigArray(30 << 20)
	for _, load := range []struct {
		name    string
		body    []byte
		perPost int
	}{
		{"8 x 30 MB", big, nBig},
		{"8 x 100k events", smallArray(100_000), 100_000},
	} {
		sm := startSampler(t)
		var wg sync.WaitGroup
		var accepted, retries atomic.Int64
		for range 8 {
			wg.Go(func() {
				n, r := postUntilDone(t, url, load.body)
				accepted.Add(int64(n))
				retries.Add(int64(r))
			})
		}
		wg.Wait()
		f := sm.stop()
		t.Logf("%s: heap %s -> peak %s (+%s), live peak +%s, retained +%s; RSS %s -> peak %s (+%s); %d events accepted, %d retries after 429/503",
			load.name, mib(f.heapBefore), mib(f.heapPeak), mib(f.heapPeak-f.heapBefore), mib(f.livePeak-f.heapBefore),
			mib(f.retained-f.heapBefore), mib(f.rssBefore), mib(f.rssPeak), mib(f.rssPeak-f.rssBefore), accepted.Load(), retries.Load())
		if accepted.Load() != int64(8*load.perPost) {
			t.Errorf("%s: %d events accepted, want %d", load.name, accepted.Load(), 8*load.perPost)
		}
		if bound := f.retained - f.heapBefore + uint64(server.DefaultIngestConfig().MaxInflightBytes); f.livePeak-f.heapBefore > bound {
			t.Errorf("%s: live heap grew by %s, more than the broker's copy and ingest.max_inflight_bytes (%s)",
				load.name, mib(f.livePeak-f.heapBefore), mib(bound))
		}
	}
}

// postUntilDone posts body until it is taken, waiting as Retry-After
// says when the server is at its limits, and returns the events accepted
// and the number of retries.
func postUntilDone(t *testing.T, url string, body []byte) (accepted, retries int) {
	for {
		resp, err := http.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Errorf("post: %v", err)
			return 0, retries
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			var res struct{ Accepted int }
			if err := json.Unmarshal(msg, &res); err != nil {
				t.Errorf("answer %.100s: %v", msg, err)
			}
			return res.Accepted, retries
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			retries++
			secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			if secs < 1 || retries > 100 {
				t.Errorf("%s after %d retries, Retry-After %q: %s", resp.Status, retries, resp.Header.Get("Retry-After"), msg)
				return 0, retries
			}
			time.Sleep(time.Duration(secs) * time.Second)
		default:
			t.Errorf("%s: %.300s", resp.Status, msg)
			return 0, retries
		}
	}
}

// bigArray is a JSON array of about size bytes of n events with a 100
// KiB prompt each (under schemas.MaxContentBytes, so nothing is cut).
func bigArray(size int) (body []byte, n int) {
	content := strings.Repeat("the quick brown fox jumps over the lazy dog ", 100<<10/44)
	var buf bytes.Buffer
	buf.WriteByte('[')
	for ; buf.Len() < size-len(content)-300; n++ {
		if n > 0 {
			buf.WriteByte(',')
		}
		writeEvent(&buf, n, content)
	}
	buf.WriteByte(']')
	return bytes.Clone(buf.Bytes()), n // not the buffer's spare room
}

// smallArray is a JSON array of n small events (about 300 bytes each).
func smallArray(n int) []byte {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeEvent(&buf, i, "what is the capital of France?")
	}
	buf.WriteByte(']')
	return bytes.Clone(buf.Bytes())
}

func writeEvent(buf *bytes.Buffer, i int, content string) {
	fmt.Fprintf(buf, `{"schema_version":1,"event_id":%q,"app":"mem","model":"m","ts":"2026-01-01T00:00:00Z","duration_ms":%d,`+
		`"input_tokens":10,"output_tokens":5,"prompt":[{"role":"user","content":%q}],"completion":[{"role":"assistant","content":"Paris."}]}`,
		uuid.Must(uuid.NewV7()).String(), i%1000, content)
}

// sampler records the heap (runtime/metrics: live and not yet swept
// objects) every few milliseconds and the process's peak RSS (VmHWM,
// reset through /proc/self/clear_refs when the kernel allows).
type sampler struct {
	stopc, done                    chan struct{}
	heapBefore, heapPeak, livePeak uint64
	rssBefore                      uint64
}

// figures: heap is every object the heap holds, garbage included; live
// is the heap the last GC found live; retained is the live heap after
// the load and a GC.
type figures struct{ heapBefore, heapPeak, livePeak, retained, rssBefore, rssPeak uint64 }

func startSampler(t *testing.T) *sampler {
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // resets VmHWM to the current RSS
	s := &sampler{stopc: make(chan struct{}), done: make(chan struct{})}
	s.heapBefore, _ = heapBytes()
	s.heapPeak, s.livePeak, s.rssBefore = s.heapBefore, s.heapBefore, procStatus("VmRSS")
	go func() {
		defer close(s.done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stopc:
				return
			case <-tick.C:
				heap, live := heapBytes()
				s.heapPeak, s.livePeak = max(s.heapPeak, heap), max(s.livePeak, live)
			}
		}
	}()
	return s
}

func (s *sampler) stop() figures {
	close(s.stopc)
	<-s.done
	f := figures{heapBefore: s.heapBefore, heapPeak: s.heapPeak, livePeak: s.livePeak, rssBefore: s.rssBefore, rssPeak: procStatus("VmHWM")}
	runtime.GC()
	f.retained, _ = heapBytes()
	return f
}

var heapSamples = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}

func heapBytes() (heap, live uint64) {
	metrics.Read(heapSamples)
	return heapSamples[0].Value.Uint64(), heapSamples[1].Value.Uint64()
}

// procStatus is a /proc/self/status field in bytes (0 when unavailable).
func procStatus(field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(int64(b))/(1<<20)) }
