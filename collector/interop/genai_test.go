package interop_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/score"
)

// TestInteropGenAIInstrumentations runs real Node.js applications (the
// openai client) instrumented by the OpenTelemetry project's own
// @opentelemetry/instrumentation-openai (content capture on: the content
// travels in log events, the model and tokens on the span) and by
// OpenInference's openai instrumentation (everything on the span), each
// making a plain and a streamed chat call against a fake OpenAI server,
// through the sightline-collector binary and through `sightline up
// --otlp`. Every call must land in llm_events exactly once, with its
// models, prompt, completion, tokens, finish reason and app; the
// collector's counters must show the OpenTelemetry calls joined and
// nothing dropped, late or still waiting.
func TestInteropGenAIInstrumentations(t *testing.T) {
	npm, node := needNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	app := installApp(t, ctx, npm)
	openai := fakeOpenAI(t)

	t.Run("sightline-collector", func(t *testing.T) {
		bin := goBuild(t, ctx, "github.com/sightline-dev/sightline/cmd/sightline-collector")
		b := testenv.Broker(t, "")
		conn, _ := testenv.Database(t)
		stage, err := score.New(score.Config{Brokers: b.Addrs(), Group: "interop-genai", FlushInterval: 100 * time.Millisecond}, conn, prometheus.NewRegistry())
		testenv.Must(t, err, "score stage")
		sctx, scancel := context.WithCancel(ctx)
		stageDone := make(chan error, 1)
		go func() { stageDone <- stage.Run(sctx) }()
		defer func() {
			scancel()
			<-stageDone
		}()

		// The collector with its default configuration, as a user runs it.
		httpAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
		metricsPort := freePort(t)
		col := exec.CommandContext(ctx, bin)
		col.Env = append(os.Environ(),
			"SIGHTLINE_OTLP_GRPC_ENDPOINT=127.0.0.1:"+strconv.Itoa(freePort(t)),
			"SIGHTLINE_OTLP_HTTP_ENDPOINT="+httpAddr,
			"SIGHTLINE_COLLECTOR_METRICS_PORT="+strconv.Itoa(metricsPort),
			"SIGHTLINE_KAFKA_BROKERS="+b.Addrs()[0])
		logPath := filepath.Join(t.TempDir(), "collector.log")
		startLogged(t, col, logPath)
		waitListening(t, httpAddr, logPath)

		runGenAIApps(t, ctx, node, app, openai, "http://"+httpAddr)
		checkGenAICalls(t, ctx, conn)
		checkJoinCounters(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
	})

	t.Run("sightline up --otlp", func(t *testing.T) {
		bin := goBuild(t, ctx, "github.com/sightline-dev/sightline/cmd/sightline")
		conn, opts := testenv.Database(t)
		dir := t.TempDir()
		hport, metricsPort := freePort(t), freePort(t)
		httpAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
		cfg := fmt.Sprintf("data_dir: %s\nhttp_addr: 127.0.0.1:%d\nkafka:\n  embedded_addr: 127.0.0.1:%d\n"+
			"clickhouse:\n  addr: %s\n  database: %s\nscore:\n  flush_interval: 200ms\n"+
			"otlp:\n  grpc_addr: 127.0.0.1:%d\n  http_addr: %s\n  metrics_addr: 127.0.0.1:%d\n",
			filepath.Join(dir, "data"), hport, freePort(t), testenv.ClickHouseAddr(t), opts.Database,
			freePort(t), httpAddr, metricsPort)
		cfgPath := filepath.Join(dir, "sightline.yaml")
		testenv.Must(t, os.WriteFile(cfgPath, []byte(cfg), 0o644), "write config")
		up := exec.CommandContext(ctx, bin, "up", "--config", cfgPath, "--otlp")
		logPath := filepath.Join(dir, "up.log")
		startLogged(t, up, logPath)
		testenv.Eventually(t, 90*time.Second, "sightline up ready", func() (bool, string) {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", hport))
			if err != nil {
				return false, err.Error() + "\n" + tail(logPath)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK, string(body) + "\n" + tail(logPath)
		})
		waitListening(t, httpAddr, logPath)

		runGenAIApps(t, ctx, node, app, openai, "http://"+httpAddr)
		checkGenAICalls(t, ctx, conn)
		checkJoinCounters(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
	})
}

// goBuild builds a command of this module into a temporary directory.
func goBuild(t *testing.T, ctx context.Context, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cannot build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// startLogged starts cmd with its output in logPath, and stops it with
// SIGINT (then SIGKILL) when the test ends.
func startLogged(t *testing.T, cmd *exec.Cmd, logPath string) {
	t.Helper()
	log, err := os.Create(logPath)
	testenv.Must(t, err, "create log")
	cmd.Stdout, cmd.Stderr = log, log
	testenv.Must(t, cmd.Start(), "start "+cmd.Path)
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		log.Close()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
}

func waitListening(t *testing.T, addr, logPath string) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, addr+" listening", func() (bool, string) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, err.Error() + "\n" + tail(logPath)
		}
		c.Close()
		return true, ""
	})
}

// tail is the end of a log file, for failure messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// runGenAIApps runs genai.js once per instrumentation.
func runGenAIApps(t *testing.T, ctx context.Context, node, app, openai, otlp string) {
	t.Helper()
	for _, mode := range []string{"otel", "openinference"} {
		run := exec.CommandContext(ctx, node, "genai.js", mode)
		run.Dir = app
		run.Env = append(os.Environ(), "OPENAI_BASE_URL="+openai, "OTLP_ENDPOINT="+otlp,
			// The OpenTelemetry instrumentation's own switch for content.
			"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true")
		out, err := run.CombinedOutput()
		if err != nil {
			t.Fatalf("node genai.js %s: %v\n%s", mode, err, out)
		}
		t.Logf("node genai.js %s:\n%s", mode, out)
	}
}

type genaiRow struct {
	app, requestModel, model, provider string
	prompt, completion, finish         []string
	in, out                            int64
}

// checkGenAICalls waits for the four calls and checks each.
func checkGenAICalls(t *testing.T, ctx context.Context, conn driver.Conn) {
	t.Helper()
	var got []genaiRow
	testenv.Eventually(t, 90*time.Second, "four calls in llm_events", func() (bool, string) {
		rs, err := conn.Query(ctx, `SELECT app, request_model, model, provider, prompt_contents, completion_contents,
			finish_reasons, input_tokens, output_tokens
			FROM llm_events FINAL WHERE app LIKE 'interop-%' ORDER BY app, length(prompt_contents) DESC`)
		if err != nil {
			return false, err.Error()
		}
		defer rs.Close()
		got = got[:0]
		for rs.Next() {
			var r genaiRow
			if err := rs.Scan(&r.app, &r.requestModel, &r.model, &r.provider, &r.prompt, &r.completion, &r.finish, &r.in, &r.out); err != nil {
				return false, err.Error()
			}
			got = append(got, r)
		}
		return len(got) >= 4, fmt.Sprintf("%d rows: %+v", len(got), got)
	})
	// Exactly once: one row per call, and no second event of a call under
	// another id (a span and its log events produced apart).
	var rows, distinct uint64
	testenv.Must(t, conn.QueryRow(ctx, `SELECT count(), uniqExact(trace_id, span_id) FROM llm_events
		WHERE app LIKE 'interop-%'`).Scan(&rows, &distinct), "count")
	if rows != 4 || distinct != 4 || len(got) != 4 {
		t.Fatalf("%d rows, %d distinct calls, want 4 and 4: %+v", rows, distinct, got)
	}
	plainPrompt := "You answer in one short sentence.|What is the capital of France?"
	want := []genaiRow{
		// OpenInference records neither the response model nor the
		// tokens of a streamed call (4.2.7); the request model comes
		// from llm.invocation_parameters.
		{app: "interop-openinference", requestModel: "gpt-4o-mini", model: "gpt-4o-mini-2024-07-18", provider: "openai",
			prompt: strings.Split(plainPrompt, "|"), completion: []string{"Paris is the capital of France."}, finish: []string{"stop"}, in: 23, out: 7},
		{app: "interop-openinference", requestModel: "gpt-4o-mini", model: "gpt-4o-mini", provider: "openai",
			prompt: []string{"Count to three."}, completion: []string{"One, two, three."}, finish: []string{"stop"}},
		{app: "interop-otel", requestModel: "gpt-4o-mini", model: "gpt-4o-mini-2024-07-18", provider: "openai",
			prompt: strings.Split(plainPrompt, "|"), completion: []string{"Paris is the capital of France."}, finish: []string{"stop"}, in: 23, out: 7},
		{app: "interop-otel", requestModel: "gpt-4o-mini", model: "gpt-4o-mini-2024-07-18", provider: "openai",
			prompt: []string{"Count to three."}, completion: []string{"One, two, three."}, finish: []string{"stop"}, in: 11, out: 5},
	}
	for i, w := range want {
		g := got[i]
		if g.app != w.app || g.requestModel != w.requestModel || g.model != w.model || g.provider != w.provider ||
			strings.Join(g.prompt, "|") != strings.Join(w.prompt, "|") || strings.Join(g.completion, "|") != strings.Join(w.completion, "|") ||
			strings.Join(g.finish, "|") != strings.Join(w.finish, "|") || g.in != w.in || g.out != w.out {
			t.Errorf("call %d:\n got  %+v\n want %+v", i, g, w)
		}
	}
}

// checkJoinCounters reads the collector's own metrics: the OpenTelemetry
// instrumentation's two calls were joined, nothing was dropped or came
// late, and nothing still waits.
func checkJoinCounters(t *testing.T, url string) {
	t.Helper()
	var body string
	testenv.Eventually(t, 30*time.Second, "join counters", func() (bool, string) {
		resp, err := http.Get(url)
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		return metricSum(body, "sightline_collector_join_calls", `outcome="merged"`) == 2 &&
			metricSum(body, "sightline_collector_join_waiting_calls", "") == 0, grepMetrics(body)
	})
	for _, m := range []struct{ name, label string }{
		{"sightline_collector_events_dropped", ""},
		{"sightline_collector_join_late_events", ""},
		{"sightline_collector_join_pending_full", ""},
		{"sightline_collector_join_calls", `outcome="span_only"`},
		{"sightline_collector_join_calls", `outcome="logs_only"`},
		{"sightline_collector_join_calls", `outcome="repeated_span"`},
	} {
		if v := metricSum(body, m.name, m.label); v != 0 {
			t.Errorf("%s{%s} = %v, want 0\n%s", m.name, m.label, v, grepMetrics(body))
		}
	}
}

// metricSum adds the samples of a metric (name, or name_total as newer
// Prometheus exporters name counters) in the text exposition format whose
// labels contain label.
func metricSum(body, name, label string) float64 {
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok {
			continue
		}
		rest = strings.TrimPrefix(rest, "_total")
		if !strings.HasPrefix(rest, "{") && !strings.HasPrefix(rest, " ") {
			continue
		}
		if label != "" && !strings.Contains(line, label) {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

func grepMetrics(body string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "sightline_collector_") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
