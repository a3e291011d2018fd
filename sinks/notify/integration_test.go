package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/internal/testenv"
)

const alertmanagerBin = "/usr/bin/prometheus-alertmanager"

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startAlertmanager runs the OS package's Alertmanager on a loopback port
// with a temporary config and storage, stopped when the test ends.
func startAlertmanager(t *testing.T) string {
	t.Helper()
	bin := alertmanagerBin
	if _, err := os.Stat(bin); err != nil {
		if p, err := exec.LookPath("prometheus-alertmanager"); err == nil {
			bin = p
		} else {
			t.Fatalf("%s is missing: run `make test`, which installs the prometheus-alertmanager OS package (deploy/scripts/ensure-deps.sh)", alertmanagerBin)
		}
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte("route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start alertmanager: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := "http://" + addr
	testenv.Eventually(t, 30*time.Second, "alertmanager ready", func() (bool, string) {
		resp, err := http.Get(url + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	return url
}

type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

func listAlerts(t *testing.T, url string) []amAlert {
	t.Helper()
	resp, err := http.Get(url + `/api/v2/alerts?filter=alertname="toxic-support"`)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []amAlert
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAlertmanagerReal posts a firing and then a resolved alert to a real
// Alertmanager and reads them back from its v2 API.
func TestAlertmanagerReal(t *testing.T) {
	url := startAlertmanager(t)
	am := &Alertmanager{URL: url, GeneratorURL: "http://sightline.example/alerts"}
	n := testNotification()
	n.StartsAt = time.Now().Add(-2 * time.Minute).Truncate(time.Second).UTC()
	out, err := am.Notify(context.Background(), n)
	if err != nil || out.StatusCode != 200 {
		t.Fatalf("post firing: %+v %v", out, err)
	}
	got := listAlerts(t, url)
	if len(got) != 1 {
		t.Fatalf("alertmanager holds %d alerts: %+v", len(got), got)
	}
	a := got[0]
	if a.Status.State != "active" || a.Labels["severity"] != "critical" || a.Labels["tenant"] != "acme" || a.Labels["team"] != "support" ||
		a.Labels["signal"] != "toxicity/rate" || a.Annotations["alert_id"] != n.AlertID || a.Annotations["value"] != "0.31" ||
		a.GeneratorURL != "http://sightline.example/alerts" || !a.StartsAt.Equal(n.StartsAt) {
		t.Fatalf("alert in alertmanager: %+v", a)
	}
	t.Logf("alertmanager alert: labels=%v state=%s", a.Labels, a.Status.State)

	n.State, n.EndsAt = StateResolved, time.Now().UTC()
	if out, err := am.Notify(context.Background(), n); err != nil || out.StatusCode != 200 {
		t.Fatalf("post resolved: %+v %v", out, err)
	}
	// A resolved alert leaves the active list.
	testenv.Eventually(t, 10*time.Second, "alert resolved in alertmanager", func() (bool, string) {
		got := listAlerts(t, url)
		return len(got) == 0, testenv.Sprintf("%d alerts listed", len(got))
	})
}

// TestAlertmanagerRealIncident: an incident posted to a real Alertmanager
// becomes one alert per series; the resolved member is not active.
func TestAlertmanagerRealIncident(t *testing.T) {
	url := startAlertmanager(t)
	n := testIncident()
	if out, err := (&Alertmanager{URL: url}).Notify(context.Background(), n); err != nil || out.StatusCode != 200 {
		t.Fatalf("post incident: %+v %v", out, err)
	}
	got := listAlerts(t, url)
	ids := map[string]string{}
	for _, a := range got {
		ids[a.Annotations["alert_id"]] = a.Labels["model"] + "/" + a.Labels["variant"] + " " + a.Annotations["incident_id"]
	}
	if len(got) != 2 || ids["s1"] != "gpt-x/control "+n.AlertID || ids["s2"] != "gpt-y/control "+n.AlertID {
		t.Fatalf("alertmanager holds %v, want the two firing series of incident %s", ids, n.AlertID)
	}
}

// TestKafkaAction produces alert events to the in-process broker.
func TestKafkaAction(t *testing.T) {
	b := testenv.Broker(t, "")
	k, err := NewKafka(b.Addrs(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	n := testNotification()
	if _, err := k.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	n.State = StateResolved
	if _, err := k.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics(DefaultTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var states []string
	for len(states) < 2 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("got %v before timeout", states)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var m map[string]any
			if err := json.Unmarshal(r.Value, &m); err != nil {
				t.Fatal(err)
			}
			if string(r.Key) != n.Fingerprint || m["alert_id"] != n.AlertID {
				t.Fatalf("record key %q, payload %v", r.Key, m)
			}
			states = append(states, m["state"].(string))
		})
	}
	if states[0] != StateFiring || states[1] != StateResolved {
		t.Fatalf("states %v", states)
	}
}
