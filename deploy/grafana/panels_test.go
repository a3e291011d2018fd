package grafana_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/internal/app"
	"github.com/sightline-dev/sightline/internal/chlocal"
	"github.com/sightline-dev/sightline/internal/config"
	"github.com/sightline-dev/sightline/internal/loadgen"
	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/sdk"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Every panel's query, expanded as Grafana and the plugins expand it, runs
// against what the pipeline stored from loadgen's scenarios and returns
// data; the same with one value picked in each multi-value variable (those
// queries must run; they may find nothing). PromQL runs on a real
// Prometheus that scraped the same `sightline up` while it worked.
func TestPanelsReturnData(t *testing.T) {
	s := startSystem(t)
	prom := startPrometheus(t, s.httpAddr)
	s.fill(t)
	prom.waitSamples(t, 5)
	ctx := context.Background()
	from, to := s.t0.Add(-time.Minute), time.Now().Add(time.Second).Truncate(time.Second)

	runs := map[string]int{}
	for _, d := range loadDashboards(t) {
		for _, pass := range []string{"all", "first"} {
			vars := resolveVariables(t, d, pass, s.conn, prom, from, to)
			for _, p := range d.panels() {
				for _, env := range panelEnvs(t, p, vars, from, to) {
					for _, tg := range p.Targets {
						where := fmt.Sprintf("%s (%s): %q %s", d.file, pass, p.Title, tg.RefID)
						if p.Repeat != "" {
							where += fmt.Sprintf(" [$%s=%s]", p.Repeat, env.vars[p.Repeat].values[0])
						}
						query, got, err := runTarget(ctx, s.conn, prom, tg, env, pass == "all")
						if err != nil {
							t.Errorf("%s: %v\n%s", where, err, query)
							continue
						}
						runs[tg.Datasource.Type]++
						if pass == "all" {
							t.Logf("%s: %s", where, got)
						}
					}
				}
			}
		}
	}
	if runs[pluginClickHouse] < 40 || runs[pluginPrometheus] < 30 {
		t.Fatalf("ran only %v queries", runs)
	}

	// The checks above catch what Grafana would show broken or empty.
	t.Run("BrokenQueriesFail", func(t *testing.T) {
		env := queryEnv{from: from, to: to, interval: 10 * time.Second}
		for _, tc := range []struct{ what, sql, format string }{
			{"unknown table", "SELECT count() AS calls FROM llm_eventz WHERE $__timeFilter(ts)", "table"},
			{"no data", "SELECT count() AS calls FROM llm_events FINAL WHERE $__timeFilter(ts) AND app = 'no-such-app'", "table"},
			{"no rows", "SELECT app, count() AS calls FROM llm_events FINAL WHERE 0 GROUP BY app", "table"},
			{"time not ascending", "SELECT toDateTime(intDiv(toUInt32(ts), 10) * 10) AS time, count() AS calls FROM llm_events FINAL WHERE $__timeFilter(ts) GROUP BY time ORDER BY time DESC", "timeseries"},
			{"one series twice at a time", "SELECT window_start AS time, app AS key, value FROM llm_signals FINAL WHERE signal = 'toxicity' AND metric = 'rate' AND $__timeFilter(window_start) ORDER BY time", "timeseries"},
			{"no time column", "SELECT app, count() AS calls FROM llm_events FINAL WHERE $__timeFilter(ts) GROUP BY app", "timeseries"},
		} {
			sql, err := expandSQL(tc.sql, env)
			if err != nil {
				t.Fatalf("%s: %v", tc.what, err)
			}
			if _, err := checkSQL(ctx, s.conn, sql, tc.format, true); err == nil {
				t.Errorf("%s: the check passed %s", tc.what, sql)
			} else {
				t.Logf("%s: %v", tc.what, err)
			}
		}
		for _, tc := range []struct{ what, expr string }{
			{"unknown metric", `sum(rate(sightline_score_record_total[1m]))`},
			{"label value that never occurs", `sum by (result) (rate(sightline_score_records_total{result="stroed"}[1m]))`},
			{"syntax", `sum by (result) (rate(sightline_score_records_total[1m])`},
		} {
			if _, err := prom.check(tc.expr, from, to, time.Second, true); err == nil {
				t.Errorf("%s: the check passed %s", tc.what, tc.expr)
			}
		}
	})
}

// runTarget expands one query and runs it on its data source; it returns
// the query as sent and what came back.
func runTarget(ctx context.Context, conn driver.Conn, prom *prometheus, tg target, env queryEnv, wantData bool) (string, string, error) {
	switch tg.Datasource.Type {
	case pluginClickHouse:
		sql, err := expandSQL(tg.RawSQL, env)
		if err != nil {
			return tg.RawSQL, "", err
		}
		format := "table"
		if *tg.Format == formatTimeSeries {
			format = "timeseries"
		}
		n, err := checkSQL(ctx, conn, sql, format, wantData)
		return sql, fmt.Sprintf("%d rows", n), err
	case pluginPrometheus:
		expr, err := expandPromQL(tg.Expr, env)
		if err != nil {
			return tg.Expr, "", err
		}
		n, err := prom.check(expr, env.from, env.to, env.interval, wantData)
		return expr, fmt.Sprintf("%d series", n), err
	}
	return "", "", fmt.Errorf("data source type %q", tg.Datasource.Type)
}

// panelEnvs gives the environments a panel's queries run in: one, or one
// per value of the variable it repeats over (Grafana draws a copy per
// value, with that value alone).
func panelEnvs(t *testing.T, p panel, vars map[string]selection, from, to time.Time) []queryEnv {
	t.Helper()
	iv, err := panelInterval(p, from, to)
	if err != nil {
		t.Fatal(err)
	}
	base := queryEnv{from: from, to: to, interval: iv, scrape: scrapeInterval, vars: vars}
	if p.Repeat == "" {
		return []queryEnv{base}
	}
	var out []queryEnv
	for _, v := range vars[p.Repeat].values {
		e := base
		e.vars = map[string]selection{}
		for k, s := range vars {
			e.vars[k] = s
		}
		e.vars[p.Repeat] = selection{values: []string{v}, single: true, v: vars[p.Repeat].v}
		out = append(out, e)
	}
	return out
}

// resolveVariables computes every template variable in order, as Grafana
// does on load: a query variable's options come from its query (which may
// use the variables before it), its value is All where it offers All
// (pass "all") or else the saved current value when it is an option, else
// the first option; pass "first" picks the first option of multi-value
// variables instead of All.
func resolveVariables(t *testing.T, d dashboard, pass string, conn driver.Conn, prom *prometheus, from, to time.Time) map[string]selection {
	t.Helper()
	vars := map[string]selection{}
	for i := range d.Templating.List {
		v := &d.Templating.List[i]
		var options []string
		switch v.Type {
		case "datasource":
			vars[v.Name] = selection{values: currentValues(v.Current.Value), v: v}
			continue
		case "custom":
			q, _ := variableQuery(v.Query)
			for _, o := range strings.Split(q, ",") {
				options = append(options, strings.TrimSpace(o))
			}
		case "query":
			q, err := variableQuery(v.Query)
			if err != nil {
				t.Fatal(err)
			}
			env := queryEnv{from: from, to: to, interval: time.Second, scrape: scrapeInterval, vars: vars}
			switch v.Datasource.Type {
			case pluginClickHouse:
				sql, err := expandSQL(q, env)
				if err != nil {
					t.Fatalf("%s: variable %s: %v", d.file, v.Name, err)
				}
				options = queryColumn(t, conn, sql)
			case pluginPrometheus:
				expr, err := expandPromQL(q, env)
				if err != nil {
					t.Fatalf("%s: variable %s: %v", d.file, v.Name, err)
				}
				options = prom.labelValues(t, expr, from, to)
			}
		default:
			t.Fatalf("%s: variable %s of type %q: the test does not know it", d.file, v.Name, v.Type)
		}
		if len(options) == 0 {
			t.Fatalf("%s: variable %s (%s pass) has no options", d.file, v.Name, pass)
		}
		sel := selection{v: v}
		switch {
		case v.Multi && pass == "first":
			sel.values = options[:1]
		case v.IncludeAll:
			sel.values, sel.all = options, true
		default:
			sel.values = options[:1]
			if cur := currentValues(v.Current.Value); len(cur) == 1 && contains(options, cur[0]) {
				sel.values = cur
			}
		}
		vars[v.Name] = sel
	}
	return vars
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func queryColumn(t *testing.T, conn driver.Conn, sql string) []string {
	t.Helper()
	_, rows, err := runSQL(context.Background(), conn, sql)
	if err != nil {
		t.Fatalf("variable query: %v\n%s", err, sql)
	}
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprint(deref(r[0])))
	}
	return out
}

type column struct {
	name, dbType string
}

func runSQL(ctx context.Context, conn driver.Conn, sql string) ([]column, [][]any, error) {
	rs, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, nil, err
	}
	defer rs.Close()
	var cols []column
	types := rs.ColumnTypes()
	for _, ct := range types {
		cols = append(cols, column{ct.Name(), ct.DatabaseTypeName()})
	}
	var rows [][]any
	for rs.Next() {
		ptrs := make([]any, len(types))
		for i, ct := range types {
			ptrs[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		row := make([]any, len(ptrs))
		for i, p := range ptrs {
			row[i] = reflect.ValueOf(p).Elem().Interface()
		}
		rows = append(rows, row)
	}
	return cols, rows, rs.Err()
}

func deref(v any) any {
	rv := reflect.ValueOf(v)
	for rv.IsValid() && rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return nil
	}
	return rv.Interface()
}

func numeric(v any) (float64, bool) {
	rv := reflect.ValueOf(deref(v))
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	}
	return 0, false
}

// meaningful: a value a panel would show as data, not as an empty result
// (a count of 0 or the NaN of an aggregate over no rows).
func meaningful(v any) bool {
	if f, ok := numeric(v); ok {
		return f != 0 && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	switch x := deref(v).(type) {
	case string:
		return x != ""
	case time.Time:
		return !x.IsZero() && x.Unix() != 0
	case nil:
		return false
	}
	return true
}

// checkSQL runs one expanded panel query and checks what the plugin needs
// to draw it: with wantData, rows holding data (an aggregate over nothing
// still returns one row of zeros); for the time-series format, a DateTime
// column "time" first, ascending (the plugin turns long frames into wide
// ones only when sorted), a number to plot, and each series once per time.
func checkSQL(ctx context.Context, conn driver.Conn, sql, format string, wantData bool) (int, error) {
	cols, rows, err := runSQL(ctx, conn, sql)
	if err != nil {
		return 0, err
	}
	if wantData {
		data := false
		for _, r := range rows {
			for _, v := range r {
				data = data || meaningful(v)
			}
		}
		if !data {
			return len(rows), fmt.Errorf("no data: %d rows, none with a non-zero value", len(rows))
		}
	}
	if format != "timeseries" {
		return len(rows), nil
	}
	if len(cols) < 2 || cols[0].name != "time" || !strings.Contains(cols[0].dbType, "DateTime") {
		return 0, fmt.Errorf("a time series query starts with a DateTime column named time, got %v", cols)
	}
	hasNumber := false
	for _, c := range cols[1:] {
		hasNumber = hasNumber || regexp.MustCompile(`^(Nullable\()?(U?Int|Float|Decimal)`).MatchString(c.dbType)
	}
	if !hasNumber {
		return 0, fmt.Errorf("no numeric column to plot: %v", cols)
	}
	seen := map[string]bool{}
	var prev time.Time
	for i, r := range rows {
		ts, _ := deref(r[0]).(time.Time)
		if i > 0 && ts.Before(prev) {
			return 0, fmt.Errorf("rows not sorted by time: %s after %s", ts.UTC(), prev.UTC())
		}
		prev = ts
		key := ts.String()
		for j, c := range cols[1:] {
			if strings.Contains(c.dbType, "String") {
				key += "\x00" + fmt.Sprint(deref(r[j+1]))
			}
		}
		if seen[key] {
			return 0, fmt.Errorf("the series %q has two rows at %s", strings.ReplaceAll(key, "\x00", " / "), ts.UTC())
		}
		seen[key] = true
	}
	return len(rows), nil
}

// ---- Prometheus

const scrapeInterval = time.Second

type prometheus struct {
	base  string
	start time.Time
}

// startPrometheus runs the OS package's prometheus (the same package as
// promtool, which `make test` installs for deploy/prometheus), scraping
// target every second.
func startPrometheus(t *testing.T, target string) *prometheus {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus not found: install the OS package \"prometheus\" (`make test` does it through deploy/scripts/ensure-deps.sh): %v", err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	testenv.Must(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: %s
  evaluation_interval: %s
scrape_configs:
  - job_name: sightline
    static_configs:
      - targets: [%q]
`, scrapeInterval, scrapeInterval, target)), 0o600), "prometheus config")
	port := freePort(t)
	var logs syncBuffer
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port), "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	testenv.Must(t, cmd.Start(), "start prometheus")
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus logs:\n%s", logs.String())
		}
	})
	p := &prometheus{base: fmt.Sprintf("http://127.0.0.1:%d", port), start: time.Now()}
	testenv.Eventually(t, 30*time.Second, "prometheus to be ready", func() (bool, string) {
		resp, err := http.Get(p.base + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return p
}

type promResponse struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   json.RawMessage
}

func (p *prometheus) get(path string, q url.Values) (json.RawMessage, error) {
	resp, err := http.Get(p.base + path + "?" + q.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r promResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %s", resp.Status, b)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("prometheus: %s", r.Error)
	}
	return r.Data, nil
}

// waitSamples waits until Prometheus holds n scrapes of the target.
func (p *prometheus) waitSamples(t *testing.T, n int) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, "scrapes of sightline up", func() (bool, string) {
		d, err := p.get("/api/v1/query", url.Values{"query": {`count_over_time(up{job="sightline"}[5m])`}})
		if err != nil {
			return false, err.Error()
		}
		var v []struct {
			Value [2]any `json:"value"`
		}
		_ = json.Unmarshal(mustField(d, "result"), &v)
		if len(v) == 0 {
			return false, "no samples"
		}
		got, _ := strconv.Atoi(fmt.Sprint(v[0].Value[1]))
		return got >= n, fmt.Sprint(got)
	})
}

func mustField(raw json.RawMessage, name string) json.RawMessage {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	return m[name]
}

// check runs expr as a time-series panel does (a range query, step =
// the panel's interval) and, with wantData, requires a sample that is a
// number (a label value that never occurs gives no series at all).
func (p *prometheus) check(expr string, from, to time.Time, step time.Duration, wantData bool) (int, error) {
	d, err := p.get("/api/v1/query_range", url.Values{"query": {expr}, "start": {fmt.Sprint(from.Unix())},
		"end": {fmt.Sprint(to.Unix())}, "step": {fmt.Sprint(max(step, time.Second).Seconds())}})
	if err != nil {
		return 0, err
	}
	var series []struct {
		Values [][2]any `json:"values"`
	}
	if err := json.Unmarshal(mustField(d, "result"), &series); err != nil {
		return 0, err
	}
	if !wantData {
		return len(series), nil
	}
	for _, s := range series {
		for _, v := range s.Values {
			if f, err := strconv.ParseFloat(fmt.Sprint(v[1]), 64); err == nil && !math.IsNaN(f) {
				return len(series), nil
			}
		}
	}
	return len(series), fmt.Errorf("no data: %d series without a number", len(series))
}

var labelValuesRE = regexp.MustCompile(`^label_values\((?:(.*),\s*)?(\w+)\)$`)

// labelValues answers a label_values(selector, label) variable query.
func (p *prometheus) labelValues(t *testing.T, q string, from, to time.Time) []string {
	t.Helper()
	m := labelValuesRE.FindStringSubmatch(strings.TrimSpace(q))
	if m == nil {
		t.Fatalf("variable query %q: only label_values(selector, label) is supported", q)
	}
	v := url.Values{"start": {fmt.Sprint(from.Unix())}, "end": {fmt.Sprint(to.Unix())}}
	if m[1] != "" {
		v.Set("match[]", m[1])
	}
	d, err := p.get("/api/v1/label/"+m[2]+"/values", v)
	if err != nil {
		t.Fatalf("variable query %q: %v", q, err)
	}
	var out []string
	testenv.Must(t, json.Unmarshal(d, &out), "label values")
	return out
}

// ---- the system and its data

// system is `sightline up` in process against the test ClickHouse, with a
// receiver for its alert actions.
type system struct {
	httpAddr string
	conn     driver.Conn
	t0       time.Time
	brokers  []string
	logs     *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Ten-second windows with one-minute rollups, so two minutes of event
// time give rates, quantiles, drift, bias and A/B rows; the alert rule
// fires on the toxicity tenant's incident and calls a webhook and a job.
const systemConfig = `data_dir: %s
http_addr: 127.0.0.1:%d
kafka:
  embedded_addr: 127.0.0.1:%d
clickhouse:
  addr: %s
  database: %s
score:
  flush_interval: 200ms
aggregate:
  window: 10s
  lateness: 5s
  idle_close: 2s
  rollup: 60s
  baseline_windows: 3
window:
  bias:
    min_group_size: 40
alerts:
  actions:
    - {name: hook, type: webhook, url: %s/hook, timeout: 2s}
    - {name: reeval, type: job, url: %s/jobs, body_file: %s, timeout: 2s}
  rules:
    - name: toxic-support
      signal: toxicity/rate
      match: {tenant: tox, app: support-bot}
      window: 10s
      operator: ">"
      threshold: 0.15
      for: 1
      min_samples: 20
      severity: critical
      actions: [hook, reeval]
`

func freePort(t *testing.T) int {
	t.Helper()
	p, err := chlocal.FreePort()
	testenv.Must(t, err, "free port")
	return p
}

func startSystem(t *testing.T) *system {
	t.Helper()
	conn, opts := testenv.Database(t)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/jobs" {
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"metadata":{"name":"reeval-1"}}`)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(receiver.Close)
	dir := t.TempDir()
	jobTemplate, err := filepath.Abs("../jobs/reeval-gpu.k8s.json.tmpl")
	testenv.Must(t, err, "job template")
	hport := freePort(t)
	cfgPath := filepath.Join(dir, "sightline.yaml")
	testenv.Must(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(systemConfig, filepath.Join(dir, "data"), hport, freePort(t),
		testenv.ClickHouseAddr(t), opts.Database, receiver.URL, receiver.URL, jobTemplate)), 0o600), "config")
	cfg, err := config.Load(cfgPath)
	testenv.Must(t, err, "load config")
	s := &system{httpAddr: cfg.HTTPAddr, conn: conn, brokers: []string{cfg.Kafka.EmbeddedAddr}, logs: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Up(ctx, cfg, slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("up did not stop within 30s")
		}
		if t.Failed() {
			t.Logf("logs of up:\n%s", s.logs.String())
		}
	})
	testenv.Eventually(t, 90*time.Second, "up to be ready", func() (bool, string) {
		select {
		case err := <-done:
			t.Fatalf("up stopped: %v", err)
		default:
		}
		resp, err := http.Get("http://" + s.httpAddr + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return s
}

// fill produces loadgen's four scenarios, each in its own tenant, over two
// minutes of event time ending 18 minutes ago (about ten times faster than
// event time), plus a few malformed records for the dead-letter path, and
// waits until every window is written and the alert fires. Each scenario
// keeps one model and variant per app (both variants for A/B) so every
// window has enough events for its statistics; the toxicity incident is
// still going at the end, so its alert is firing when the panels are read.
func (s *system) fill(t *testing.T) {
	t.Helper()
	s.t0 = time.Now().Add(-20 * time.Minute).Truncate(time.Minute)
	const steps, span = 1200, 120 * time.Second
	same := func(f float64) float64 { return f }
	mix := []struct {
		tenant, scenario string
		apps             map[string][2]string // app -> model, variant ("" keeps the call's)
		perStep          int
		phase            func(float64) float64
		gen              *loadgen.Generator
	}{
		{"tox", "toxicity-incident", map[string][2]string{"support-bot": {"gpt-4o-mini", "control"}}, 1,
			func(f float64) float64 { return 0.3 + 0.39*f }, loadgen.New(21)},
		{"drift", "drift", map[string][2]string{"search-rag": {"gpt-4o", "control"}, "code-assistant": {"gpt-4o-mini", "control"}}, 4, same, loadgen.New(22)},
		{"bias", "bias", map[string][2]string{"support-bot": {"gpt-4o-mini", "control"}}, 1, same, loadgen.New(23)},
		{"ab", "ab", map[string][2]string{"support-bot": {"gpt-4o-mini", ""}}, 3, same, loadgen.New(24)},
	}
	clients := map[[2]string]*sdk.Client{}
	client := func(tenant, app string) *sdk.Client {
		k := [2]string{tenant, app}
		if c := clients[k]; c != nil {
			return c
		}
		c, err := sdk.NewClient(sdk.App(app), sdk.Tenant(tenant), sdk.Environment("test"), sdk.Brokers(s.brokers...), sdk.QueueSize(20000))
		testenv.Must(t, err, "sdk client")
		clients[k] = c
		return c
	}
	ctx := context.Background()
	start := time.Now()
	sent := 0
	for i := range steps {
		now := s.t0.Add(time.Duration(i) * span / steps)
		f := float64(i) / steps
		for _, sc := range mix {
			for range sc.perStep {
				for {
					app, call := sc.gen.NextIn(now, sc.scenario, sc.phase(f))
					pin, ok := sc.apps[app]
					if !ok || call.Model != pin[0] || (pin[1] != "" && call.Variant != pin[1]) {
						continue // another key: drawn again
					}
					testenv.Must(t, client(sc.tenant, app).RecordWait(ctx, &call), "record")
					sent++
					break
				}
			}
		}
		// Partitions stay within the lateness of each other, as live
		// traffic does.
		if d := time.Until(start.Add(time.Duration(i+1) * span / steps / 10)); d > 0 {
			time.Sleep(d)
		}
	}
	for _, c := range clients {
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		testenv.Must(t, c.Close(cctx), "flush")
		cancel()
	}
	// Malformed records: the dead-letter path has something to count.
	_, err := loadgen.Run(ctx, loadgen.Config{Brokers: s.brokers, Tenant: "dlq", Count: 1, Invalid: 3, Seed: 25,
		Now: func() time.Time { return s.t0.Add(span - time.Second) }})
	testenv.Must(t, err, "loadgen invalid records")
	t.Logf("produced %d events in %s", sent+1, time.Since(start).Round(time.Millisecond))
	last := s.t0.Add(span - 10*time.Second)
	for _, w := range []struct {
		tenant, app string
		secs        uint32
		start       time.Time
	}{{"tox", "support-bot", 10, last}, {"drift", "search-rag", 10, last}, {"drift", "code-assistant", 10, last},
		{"ab", "support-bot", 10, last}, {"bias", "support-bot", 60, s.t0.Add(time.Minute)}} {
		testenv.Eventually(t, 120*time.Second, fmt.Sprintf("%s/%s window %s of %ds", w.tenant, w.app, w.start.Format("15:04:05"), w.secs), func() (bool, string) {
			var n uint64
			testenv.Must(t, s.conn.QueryRow(ctx, `SELECT count() FROM llm_signals WHERE tenant = ? AND app = ? AND signal = 'events'
				AND window_seconds = ? AND window_start = ?`, w.tenant, w.app, w.secs, w.start).Scan(&n), "window")
			return n > 0, strconv.FormatUint(n, 10)
		})
	}
	testenv.Eventually(t, 60*time.Second, "the toxicity alert to fire and its actions to be recorded", func() (bool, string) {
		var state string
		var actions uint64
		err := s.conn.QueryRow(ctx, `SELECT argMaxIf(state, seq, kind = 'state'), countIf(kind = 'action') FROM llm_alerts WHERE rule = 'toxic-support'`).Scan(&state, &actions)
		return err == nil && state == "firing" && actions > 0, fmt.Sprint(state, actions, err)
	})
}
