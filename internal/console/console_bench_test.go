package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/internal/console"
	"github.com/sightline-dev/sightline/internal/testenv"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// The sizes the Console's speed is measured at (issue 11).
const (
	benchCalls      = 1_000_000
	benchKeyWindows = 10_000
)

var (
	benchOnce sync.Once
	benchH    http.Handler
	benchErr  error
	benchID   string
	benchNow  atomic.Int64 // the console's clock, in seconds
)

// EnvBenchDatabase names a database already filled by an earlier run of
// the benchmark (kept with SIGHTLINE_BENCH_KEEP=1) to measure again
// without filling.
const EnvBenchDatabase = "SIGHTLINE_BENCH_DATABASE"

// benchConsole fills a database once per run (a million calls spread over
// the last 24 hours; 10,000 key-windows: 250 one-minute windows of each of
// the 40 synthetic keys, over the last four hours) and serves a Console
// whose clock moves a second per request, so that no request is answered
// from the shared cache: the figures are a first tab's, not a refresh's.
func benchConsole(b *testing.B) http.Handler {
	benchOnce.Do(func() {
		ctx := context.Background()
		var conn driver.Conn
		now := time.Now().Truncate(time.Minute)
		if name := os.Getenv(EnvBenchDatabase); name != "" {
			conn, benchErr = chsink.Open(ctx, chsink.Options{Addrs: []string{testenv.ClickHouseAddr(b)}, Database: name})
			if benchErr != nil {
				return
			}
			var last time.Time
			if benchErr = conn.QueryRow(ctx, "SELECT max(ts) FROM llm_events").Scan(&last); benchErr != nil {
				return
			}
			now = last.Truncate(time.Minute).Add(time.Minute)
		} else {
			conn, _ = testenv.Database(b)
			start := time.Now()
			if benchErr = chsink.FillSynthetic(ctx, conn, benchCalls, benchKeyWindows, 60, 24*time.Hour, now); benchErr != nil {
				return
			}
			// Let the inserts' parts merge as they would over a day.
			for _, table := range []string{"llm_events", "llm_signals"} {
				if benchErr = conn.Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"); benchErr != nil {
					return
				}
			}
			b.Logf("filled %d calls and %d key-windows of signals in %s", benchCalls, benchKeyWindows, time.Since(start).Round(time.Second))
		}
		benchNow.Store(now.Unix())
		var c *console.Console
		c, benchErr = console.New(console.Options{Conn: conn, Config: console.DefaultConfig(), ListenAddr: "127.0.0.1:8088",
			Now: func() time.Time { return time.Unix(benchNow.Add(1), 0) }})
		benchH = c
		calls, _, err := chsink.ListCalls(context.Background(), conn, chsink.CallQuery{Scope: chsink.ConsoleScope{Tenant: "acme",
			App: "support-bot", From: now.Add(-24 * time.Hour), To: now}, Sort: chsink.SortToxicity, Limit: 10})
		if err != nil || len(calls) == 0 {
			benchErr = fmt.Errorf("no call to open: %v", err)
			return
		}
		benchID = calls[0].EventID
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchH
}

func serve(b *testing.B, h http.Handler, target string) (int, []byte, time.Duration) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	start := time.Now()
	h.ServeHTTP(rec, req)
	took := time.Since(start)
	body, _ := io.ReadAll(rec.Result().Body)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s: %d\n%s", target, rec.Code, body)
	}
	return rec.Code, body, took
}

var nextLink = regexp.MustCompile(`class="next" href="([^"]+)"`)

// BenchmarkPages measures each page's server time (p50 and p95 of the
// iterations, no cache) and its size with the CSS and JavaScript it loads,
// over 1,000,000 calls and 10,000 key-windows of signals. Run with
// -benchtime=20x or more for a stable p95.
func BenchmarkPages(b *testing.B) {
	h := benchConsole(b)
	_, css, _ := serve(b, h, "/assets/console.css")
	_, js, _ := serve(b, h, "/assets/console.js")
	_, first, _ := serve(b, h, "/calls")
	m := nextLink.FindSubmatch(first)
	if m == nil {
		b.Fatal("the calls explorer has no next page")
	}
	next := strings.ReplaceAll(string(m[1]), "&amp;", "&")
	_, first24, _ := serve(b, h, "/calls?range=24h")
	m24 := nextLink.FindSubmatch(first24)
	if m24 == nil {
		b.Fatal("the calls explorer has no next page over 24h")
	}
	// Each page as it opens (the last hour), and the heaviest views: the
	// calls explorer and the overview over all 24 hours of calls.
	pages := []struct{ name, target string }{
		{"overview", "/"},
		{"calls", "/calls"},
		{"calls_next_page", next},
		{"calls_filtered_sorted", "/calls?toxicity=0.9&sort=latency"},
		{"call_detail", "/calls/" + benchID + "?tenant=acme&app=support-bot"},
		{"signals", "/signals"},
		{"drift", "/signals/drift"},
		{"bias", "/signals/bias"},
		{"ab", "/signals/ab"},
		{"alerts", "/alerts"},
		{"jobs", "/jobs"},
		{"live", "/live"},
		{"overview_24h", "/?range=24h"},
		{"calls_24h", "/calls?range=24h"},
		{"calls_24h_next_page", strings.ReplaceAll(string(m24[1]), "&amp;", "&")},
		{"calls_24h_filtered_sorted", "/calls?range=24h&toxicity=0.9&sort=latency"},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			var times []time.Duration
			size := 0
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_, body, took := serve(b, h, p.target)
				times = append(times, took)
				size = len(body)
			}
			slices.Sort(times)
			pct := func(q float64) float64 {
				return float64(times[min(len(times)-1, int(q*float64(len(times))))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.5), "p50-ms")
			b.ReportMetric(pct(0.95), "p95-ms")
			total := size
			if p.name != "live" {
				total += len(css) + len(js)
			}
			b.ReportMetric(float64(total), "page-bytes")
			if total > 200<<10 {
				b.Errorf("%s: %d bytes with its CSS and JavaScript, over 200 KB", p.name, total)
			}
		})
	}
}
