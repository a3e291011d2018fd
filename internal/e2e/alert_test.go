package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/sinks/clickhouse"
	"github.com/sightline-dev/sightline/sinks/notify"
)

type delivery struct {
	at      time.Time
	state   string
	alertID string
	window  time.Time
	seconds uint32
	total   int
	firing  int
	members []member
}

type member struct {
	AlertID string            `json:"alert_id"`
	State   string            `json:"state"`
	Scope   map[string]string `json:"scope"`
}

// `sightline up` with an alert rule over support-bot (two models, two
// variants: four series, grouped by tenant and app), loadgen --scenario
// toxicity-incident, a webhook receiver that verifies the signature and a
// job endpoint: the incident fires once listing its series, the job is
// requested once with its idempotency key, the incident resolves once
// after all four series resolved, and llm_alerts / llm_jobs hold the
// history.
func TestAlertFiresOnceJobOnceAndResolves(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	secret := "e2e-secret"
	var mu sync.Mutex
	var hooks []delivery
	var badSig int
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := notify.VerifySignature([]byte(secret), r.Header, body, time.Minute); err != nil {
			mu.Lock()
			badSig++
			mu.Unlock()
			http.Error(w, "bad signature", 401)
			return
		}
		var n struct {
			AlertID string `json:"alert_id"`
			State   string `json:"state"`
			Window  struct {
				Start   time.Time `json:"start"`
				Seconds uint32    `json:"seconds"`
			} `json:"window"`
			Total   int      `json:"members_total"`
			Firing  int      `json:"members_firing"`
			Members []member `json:"members"`
		}
		json.Unmarshal(body, &n)
		mu.Lock()
		hooks = append(hooks, delivery{time.Now(), n.State, n.AlertID, n.Window.Start, n.Window.Seconds, n.Total, n.Firing, n.Members})
		mu.Unlock()
	}))
	defer hook.Close()
	jobKeys := map[string]int{}
	job := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		key := r.Header.Get("Idempotency-Key")
		jobKeys[key]++
		if jobKeys[key] > 1 {
			w.WriteHeader(http.StatusConflict) // already started: a retry must not start two jobs
			return
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"metadata":{"name":"reeval-1"}}`)
	}))
	defer job.Close()

	kport, chport, chhttp, hport := freePort(t), freePort(t), freePort(t), freePort(t)
	cfg := fmt.Sprintf(`data_dir: %s
http_addr: 127.0.0.1:%d
kafka:
  embedded_addr: 127.0.0.1:%d
clickhouse:
  local_port: %d
  local_http_port: %d
score:
  flush_interval: 200ms
aggregate:
  window: 10s
  lateness: 5s
  idle_close: 3s
  rollup: -1s
alerts:
  actions:
    - {name: hook, type: webhook, url: %s, secret: "${E2E_WEBHOOK_SECRET}", timeout: 2s}
    - {name: reeval, type: job, url: %s/jobs, body_file: %s, timeout: 2s}
  rules:
    - name: toxic-support
      signal: toxicity/rate
      match: {app: support-bot}
      operator: ">"
      threshold: 0.15
      for: 1
      min_samples: 20
      severity: critical
      actions: [hook, reeval]
`, filepath.Join(dir, "data"), hport, kport, chport, chhttp, hook.URL, job.URL, repoPath(t, "deploy/jobs/reeval-gpu.k8s.json.tmpl"))
	cfgPath := filepath.Join(dir, "sightline.yaml")
	testenv.Must(t, os.WriteFile(cfgPath, []byte(cfg), 0o644), "config")

	cmd := exec.Command(bin, "up", "--config", cfgPath)
	cmd.Env = append(os.Environ(), "E2E_WEBHOOK_SECRET="+secret)
	logf, _ := os.Create(filepath.Join(dir, "up.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	testenv.Must(t, cmd.Start(), "start up")
	defer killProcess(cmd)
	testenv.Eventually(t, 90*time.Second, "/readyz", func() (bool, string) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", hport))
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	// 50 s of live traffic at 300 events/s; the incident covers 20 s..35 s.
	out, err := exec.Command(bin, "loadgen", "--config", cfgPath, "--duration", "50s", "--rate", "300", "--scenario", "toxicity-incident").CombinedOutput()
	if err != nil {
		t.Fatalf("loadgen: %v\n%s", err, out)
	}
	testenv.Eventually(t, 60*time.Second, "the resolved notification", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range hooks {
			if d.state == "resolved" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d deliveries", len(hooks))
	})
	mu.Lock()
	var firing, resolved []delivery
	for _, d := range hooks {
		switch d.state {
		case "firing":
			firing = append(firing, d)
		case "resolved":
			resolved = append(resolved, d)
		}
	}
	keys, sigErrors := len(jobKeys), badSig
	var jobCalls int
	for _, n := range jobKeys {
		jobCalls += n
	}
	mu.Unlock()
	if len(firing) != 1 || len(resolved) != 1 || sigErrors != 0 {
		t.Fatalf("want exactly one firing and one resolved notification with a valid signature, got %d and %d (bad signatures %d)",
			len(firing), len(resolved), sigErrors)
	}
	if keys != 1 || jobCalls != 1 {
		t.Fatalf("want the job requested once with one idempotency key, got %d keys, %d requests", keys, jobCalls)
	}
	f, r := firing[0], resolved[0]
	// The firing notification lists the series that fired in its window
	// (all firing); the resolved one every series of the incident, all four
	// of support-bot's, all resolved.
	series := func(d delivery, state string) map[string]bool {
		out := map[string]bool{}
		for _, m := range d.members {
			if m.State != state || m.Scope["app"] != "support-bot" {
				t.Fatalf("%s notification lists %v", d.state, m)
			}
			out[m.Scope["model"]+"/"+m.Scope["variant"]] = true
		}
		return out
	}
	fs, rs := series(f, "firing"), series(r, "resolved")
	if r.alertID != f.alertID || len(fs) == 0 || f.firing != len(fs) || f.total != len(fs) || len(rs) != 4 || r.total != 4 || r.firing != 0 {
		t.Fatalf("incident %s: firing lists %v (%d/%d), resolved (incident %s) lists %v (%d/%d); want the same incident, all of support-bot's 4 series at the end",
			f.alertID, fs, f.firing, f.total, r.alertID, rs, r.firing, r.total)
	}
	latency := f.at.Sub(f.window.Add(time.Duration(f.seconds) * time.Second))
	t.Logf("incident %s fired once listing %d series; webhook delivered %.1f s after the end of the offending window (lateness 5 s + idle/poll); "+
		"job requested once; resolved once listing %d series", f.alertID, len(fs), latency.Seconds(), len(rs))

	conn, err := clickhouse.Open(context.Background(), clickhouse.Options{Addrs: []string{fmt.Sprintf("127.0.0.1:%d", chport)}})
	testenv.Must(t, err, "clickhouse")
	defer conn.Close()
	// llm_alerts: the incident's rows, and the per-series history with
	// the firing and resolved rows of its four series naming it.
	var incident string
	var seriesFired, seriesResolved uint64
	testenv.Must(t, conn.QueryRow(context.Background(), `SELECT arrayStringConcat(groupArray(state), ',') FROM
		(SELECT state FROM llm_alerts WHERE kind = 'incident' AND alert_id = ? ORDER BY seq)`, f.alertID).Scan(&incident), "incident rows")
	testenv.Must(t, conn.QueryRow(context.Background(), `SELECT uniqExactIf(fingerprint, state = 'firing'), uniqExactIf(fingerprint, state = 'resolved')
		FROM llm_alerts WHERE kind = 'state' AND incident_id = ?`, f.alertID).Scan(&seriesFired, &seriesResolved), "series rows")
	var jobs uint64
	testenv.Must(t, conn.QueryRow(context.Background(), `SELECT count() FROM llm_jobs WHERE (outcome = 'ok' OR status_code = 201) AND alert_id = ?`,
		f.alertID).Scan(&jobs), "jobs")
	t.Logf("llm_alerts: incident %s, %d series fired and %d resolved in it; llm_jobs successful requests: %d", incident, seriesFired, seriesResolved, jobs)
	if incident != "firing,resolved" || seriesFired != 4 || seriesResolved != 4 || jobs != 1 {
		t.Fatalf("history: incident rows %q, series fired %d resolved %d, jobs %d", incident, seriesFired, seriesResolved, jobs)
	}
}

// repoPath resolves a path relative to the module root.
func repoPath(t *testing.T, rel string) string {
	wd, _ := os.Getwd()
	for d := wd; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, rel)
		}
	}
	t.Fatalf("no module root above %s", wd)
	return ""
}
