package interop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/otelcol"

	"github.com/sightline-dev/sightline/collector/distribution"
	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/processors/score"
)

// TestMain stops the local ClickHouse the test starts.
func TestMain(m *testing.M) { testenv.Main(m) }

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// fakeOpenAI is an OpenAI-compatible chat completions endpoint on
// loopback: a fixed answer, plain or streamed (server-sent events with a
// final usage chunk, as the real API sends with include_usage).
func fakeOpenAI(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model    string `json:"model"`
			Stream   bool   `json:"stream"`
			Messages []struct {
				Content string `json:"content"`
			} `json:"messages"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		created := time.Now().Unix()
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":"chatcmpl-interop-plain","object":"chat.completion","created":%d,"model":"gpt-4o-mini-2024-07-18",`+
				`"choices":[{"index":0,"message":{"role":"assistant","content":"Paris is the capital of France."},"finish_reason":"stop"}],`+
				`"usage":{"prompt_tokens":23,"completion_tokens":7,"total_tokens":30}}`, created)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		chunk := func(body string) {
			fmt.Fprintf(w, "data: {\"id\":\"chatcmpl-interop-stream\",\"object\":\"chat.completion.chunk\",\"created\":%d,\"model\":\"gpt-4o-mini-2024-07-18\",%s}\n\n", created, body)
			fl.Flush()
		}
		chunk(`"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]`)
		for _, piece := range []string{"One", ", two", ", three."} {
			chunk(`"choices":[{"index":0,"delta":{"content":"` + piece + `"},"finish_reason":null}]`)
		}
		chunk(`"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]`)
		chunk(`"choices":[],"usage":{"prompt_tokens":11,"completion_tokens":5,"total_tokens":16}`)
		fmt.Fprint(w, "data: [DONE]\n\n")
		fl.Flush()
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	testenv.Must(t, err, "listen")
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String() + "/v1"
}

// needNode returns the paths of npm and node, skipping the test without
// them.
func needNode(t *testing.T) (npm, node string) {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed: the interop tests need Node.js 20 and npm")
	}
	node, err = exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the interop tests need Node.js 20 and npm")
	}
	return npm, node
}

// installApp copies the Node.js applications to a temporary directory and
// installs their packages from the committed lock file.
func installApp(t *testing.T, ctx context.Context, npm string) string {
	t.Helper()
	app := t.TempDir()
	src := filepath.Join("..", "sightlineexporter", "testdata", "interop")
	for _, f := range []string{"package.json", "package-lock.json", "app.js", "genai.js"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		testenv.Must(t, err, "read "+f)
		testenv.Must(t, os.WriteFile(filepath.Join(app, f), b, 0o644), "write "+f)
	}
	// --prefer-offline: packages already in npm's cache (an earlier run) are
	// not fetched again, which makes the test faster and independent of the
	// registry once it has passed on a machine.
	install := exec.CommandContext(ctx, npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts")
	install.Dir = app
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm ci: %v\n%s", err, out)
	}
	return app
}

// TestInteropOpenLLMetry runs a real Node.js application (the openai
// package instrumented by OpenLLMetry) against a fake OpenAI server,
// exporting OTLP to this collector distribution, and finds both calls
// (plain and streaming) in ClickHouse through the score stage.
func TestInteropOpenLLMetry(t *testing.T) {
	npm, node := needNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// The application, installed from the committed lock file.
	app := installApp(t, ctx, npm)

	// Kafka, ClickHouse and the score stage.
	b := testenv.Broker(t, "")
	conn, _ := testenv.Database(t)
	stage, err := score.New(score.Config{Brokers: b.Addrs(), Group: "interop", FlushInterval: 100 * time.Millisecond}, conn, prometheus.NewRegistry())
	testenv.Must(t, err, "score stage")
	stageDone := make(chan error, 1)
	go func() { stageDone <- stage.Run(ctx) }()

	// The collector with its default configuration.
	httpAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	t.Setenv("SIGHTLINE_OTLP_GRPC_ENDPOINT", "127.0.0.1:"+strconv.Itoa(freePort(t)))
	t.Setenv("SIGHTLINE_OTLP_HTTP_ENDPOINT", httpAddr)
	t.Setenv("SIGHTLINE_COLLECTOR_METRICS_PORT", strconv.Itoa(freePort(t)))
	t.Setenv("SIGHTLINE_KAFKA_BROKERS", b.Addrs()[0])
	col, err := otelcol.NewCollector(distribution.Settings())
	testenv.Must(t, err, "collector")
	colDone := make(chan error, 1)
	go func() { colDone <- col.Run(ctx) }()
	defer func() {
		col.Shutdown()
		<-colDone
		cancel()
		<-stageDone
	}()
	testenv.Eventually(t, 30*time.Second, "collector running", func() (bool, string) {
		return col.GetState() == otelcol.StateRunning, col.GetState().String()
	})

	run := exec.CommandContext(ctx, node, "app.js")
	run.Dir = app
	run.Env = append(os.Environ(), "OPENAI_BASE_URL="+fakeOpenAI(t), "TRACELOOP_BASE_URL=http://"+httpAddr,
		"TRACELOOP_TELEMETRY=false")
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("node app: %v\n%s", err, out)
	}
	t.Logf("node app:\n%s", out)

	type row struct {
		model, requestModel, app, provider string
		prompt, completion                 []string
		in, out                            int64
	}
	var rows []row
	testenv.Eventually(t, 60*time.Second, "both calls in llm_events", func() (bool, string) {
		rs, err := conn.Query(ctx, `SELECT model, request_model, app, provider, prompt_contents, completion_contents, input_tokens, output_tokens
			FROM llm_events FINAL WHERE app = 'interop-app' ORDER BY input_tokens DESC`)
		if err != nil {
			return false, err.Error()
		}
		defer rs.Close()
		rows = rows[:0]
		for rs.Next() {
			var r row
			if err := rs.Scan(&r.model, &r.requestModel, &r.app, &r.provider, &r.prompt, &r.completion, &r.in, &r.out); err != nil {
				return false, err.Error()
			}
			rows = append(rows, r)
		}
		return len(rows) == 2, fmt.Sprintf("%d rows", len(rows))
	})
	plain, stream := rows[0], rows[1]
	if plain.model != "gpt-4o-mini-2024-07-18" || plain.requestModel != "gpt-4o-mini" || plain.provider != "openai" ||
		plain.in != 23 || plain.out != 7 ||
		strings.Join(plain.prompt, "|") != "You answer in one short sentence.|What is the capital of France?" ||
		strings.Join(plain.completion, "|") != "Paris is the capital of France." {
		t.Errorf("plain call: %+v", plain)
	}
	// For streams OpenLLMetry counts tokens itself (tiktoken) rather than
	// reading the usage chunk, so only their presence is checked.
	if stream.model != "gpt-4o-mini-2024-07-18" || stream.in <= 0 || stream.out <= 0 ||
		strings.Join(stream.prompt, "|") != "Count to three." ||
		strings.Join(stream.completion, "|") != "One, two, three." {
		t.Errorf("streaming call: %+v", stream)
	}
}
