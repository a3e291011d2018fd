// Package faults is the fault-injection suite: Sightline run as an
// operator runs it (`sightline up`, or separate score and aggregate
// processes), traffic from loadgen, a fault injected (sustained full-speed
// load, a stalled and a killed ClickHouse, SIGKILLed stages, a SIGKILLed
// `up`), then what was stored compared with what was sent: every event
// exactly once in llm_events FINAL, and per key and window the events the
// signals counted equal to the events stored.
//
// `make test` runs the short suite; `make faults` (SIGHTLINE_FAULTS=full)
// runs the long one with one-minute windows, whose figures the README
// reports.
package faults

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sightline-dev/sightline/internal/broker"
	"github.com/sightline-dev/sightline/internal/loadgen"
	"github.com/sightline-dev/sightline/internal/testenv"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// upSystem is `sightline up` on free ports with its own data directory.
type upSystem struct {
	t                   *testing.T
	dir, cfgPath        string
	httpAddr, kafkaAddr string
	chPort              int
	p                   *proc
}

func newUp(t *testing.T, extra string) *upSystem {
	dir := t.TempDir()
	u := &upSystem{t: t, dir: dir, httpAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		kafkaAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), chPort: freePort(t)}
	cfg := fmt.Sprintf("data_dir: %s\nhttp_addr: %s\nkafka:\n  embedded_addr: %s\nclickhouse:\n  local_port: %d\n  local_http_port: %d\n"+
		"score:\n  flush_interval: 200ms\n  progress_interval: 250ms\n",
		filepath.Join(dir, "data"), u.httpAddr, u.kafkaAddr, u.chPort, freePort(t))
	cfg += windows().yaml() + extra
	u.cfgPath = filepath.Join(dir, "sightline.yaml")
	testenv.Must(t, os.WriteFile(u.cfgPath, []byte(cfg), 0o600), "config")
	return u
}

func (u *upSystem) start() {
	u.p = start(u.t, u.dir, "up", nil, "up", "--config", u.cfgPath)
	waitReady(u.t, u.httpAddr, 120*time.Second)
}

func (u *upSystem) conn() *chConn {
	c, err := chsink.Open(context.Background(), chsink.Options{Addrs: []string{fmt.Sprintf("127.0.0.1:%d", u.chPort)}})
	testenv.Must(u.t, err, "connect to up's ClickHouse")
	u.t.Cleanup(func() { c.Close() })
	return &chConn{c}
}

// clickhousePID finds the clickhouse-server `up` manages (by its data
// directory on the command line).
func (u *upSystem) clickhousePID() int {
	u.t.Helper()
	want := filepath.Join(u.dir, "data", "clickhouse")
	var found int
	testenv.Eventually(u.t, 60*time.Second, "the managed clickhouse-server", func() (bool, string) {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if err == nil && strings.Contains(string(cmd), want) && strings.Contains(string(cmd), "clickhouse") {
				found = pid
				return true, ""
			}
		}
		return false, "not running"
	})
	return found
}

func load(t *testing.T, cfg loadgen.Config) <-chan loadgen.Result {
	out := make(chan loadgen.Result, 1)
	go func() {
		res, err := loadgen.Run(context.Background(), cfg)
		if err != nil {
			t.Errorf("loadgen: %v", err)
		}
		out <- res
	}()
	return out
}

// Sustained full-speed load, nothing disturbed: every window complete, and
// the lag gauge tracks the true backlog (end offsets minus the group's
// committed offsets, read by the test through the admin API).
func TestSustainedLoad(t *testing.T) {
	u := newUp(t, "")
	u.start()
	conn := u.conn()
	begin := time.Now()
	cfg := loadgen.Config{Brokers: []string{u.kafkaAddr}, Rate: 0, Seed: 1}
	if full() {
		cfg.Duration = 70 * time.Second
	} else {
		cfg.Count = 120000
	}
	done := load(t, cfg)

	adm, err := kgo.NewClient(kgo.SeedBrokers(u.kafkaAddr))
	testenv.Must(t, err, "admin client")
	defer adm.Close()
	truth := sampleBacklog(kadm.NewClient(adm))
	var gauges []timed
	tick := time.NewTicker(time.Second)
	var res loadgen.Result
	draining := 0
sampling:
	for {
		select {
		case r := <-done:
			res, done = r, nil
		case <-tick.C:
			m, err := metrics(u.httpAddr, "sightline_score_consumer_lag_records", "sightline_score_consumer_lag_listed_timestamp_seconds")
			g := m["sightline_score_consumer_lag_records"]
			if listed := m["sightline_score_consumer_lag_listed_timestamp_seconds"]; err == nil && listed > 0 {
				// The gauge is as of the listing it comes from.
				gauges = append(gauges, timed{time.Unix(0, int64(listed*1e9)), g})
			}
			if done == nil && (g == 0 || time.Since(begin) > pick(5*time.Minute, 15*time.Minute)) {
				if draining++; draining > 3 {
					break sampling
				}
			}
		}
	}
	tick.Stop()
	reportLag(t, gauges, truth.stop())
	elapsed := time.Since(begin)
	kw := settle(t, conn.Conn, windows(), begin, uint64(res.Produced), pick(5*time.Minute, 15*time.Minute))
	late, _ := metric(u.httpAddr, "sightline_aggregate_late_events_total")
	corr, _ := metric(u.httpAddr, "sightline_aggregate_corrected_windows_total")
	t.Logf("sustained load: %d events produced in %s (%.0f/s), all stored and counted in %d key-windows (%.0f late events merged by %v corrections); settled %s after the start",
		res.Produced, res.Elapsed.Round(time.Millisecond), float64(res.Produced)/res.Elapsed.Seconds(), kw, late, corr, time.Since(begin).Round(time.Second))
	_ = elapsed
}

type timed struct {
	at time.Time
	v  float64
}

type backlogSampler struct {
	stopc chan struct{}
	done  chan []timed
}

// sampleBacklog reads the true backlog of the score stage every 100 ms
// until stopped: the events topic's end offsets minus the score group's
// committed offsets, from the broker through the admin API (not through
// the stage).
func sampleBacklog(admin *kadm.Client) *backlogSampler {
	b := &backlogSampler{stopc: make(chan struct{}), done: make(chan []timed, 1)}
	go func() {
		var out []timed
		for {
			select {
			case <-b.stopc:
				b.done <- out
				return
			case <-time.After(100 * time.Millisecond):
			}
			at := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			ends, err1 := admin.ListEndOffsets(ctx, broker.TopicEvents)
			committed, err2 := admin.FetchOffsets(ctx, "sightline-score")
			cancel()
			if err1 != nil || err2 != nil {
				continue
			}
			var backlog int64
			ends.Each(func(o kadm.ListedOffset) {
				pos := int64(0)
				if c, ok := committed.Lookup(broker.TopicEvents, o.Partition); ok && c.At >= 0 {
					pos = c.At
				}
				backlog += max(o.Offset-pos, 0)
			})
			out = append(out, timed{at, float64(backlog)})
		}
	}()
	return b
}

func (b *backlogSampler) stop() []timed {
	close(b.stopc)
	return <-b.done
}

// reportLag: each reading of the lag gauge against the true backlog at the
// time of the offsets listing it comes from (the stage exports that time;
// the committed offsets it subtracts are read right after the listing).
// The backlog passed through every value between two samples, so a reading
// within the range spanned by the samples bracketing [listed-100ms,
// listed+250ms] is exact; otherwise its error is the distance to that
// range. Within 5 % whenever the backlog is large enough for a percentage
// to mean something (20,000 records).
func reportLag(t *testing.T, gauges, truth []timed) {
	t.Helper()
	var worst, peak float64
	var n int
	var worstAt string
	for _, g := range gauges {
		from, to := g.at.Add(-100*time.Millisecond), g.at.Add(250*time.Millisecond)
		lo, hi := math.Inf(1), math.Inf(-1)
		for i, s := range truth {
			// The samples inside the interval and the two bracketing it.
			inside := !s.at.Before(from) && !s.at.After(to)
			before := s.at.Before(from) && (i+1 == len(truth) || !truth[i+1].at.Before(from))
			after := s.at.After(to) && (i == 0 || !truth[i-1].at.After(to))
			if inside || before || after {
				lo, hi = min(lo, s.v), max(hi, s.v)
			}
		}
		if math.IsInf(lo, 1) || hi < 20000 {
			continue
		}
		peak = max(peak, hi)
		n++
		var e float64
		switch {
		case g.v < lo:
			e = (lo - g.v) / lo
		case g.v > hi:
			e = (g.v - hi) / hi
		}
		if e > worst {
			worst = e
			worstAt = fmt.Sprintf("gauge %.0f as of %s, backlog between %.0f and %.0f", g.v, g.at.Format("15:04:05.000"), lo, hi)
		}
	}
	t.Logf("lag gauge vs true backlog: %d readings with a backlog >= 20,000 (peak %.0f), worst relative error %.2f%%", n, peak, 100*worst)
	if n == 0 {
		t.Errorf("the load never built a backlog of 20,000 records to compare the lag gauge with (peak %.0f)", peak)
	}
	if worst > 0.05 {
		t.Errorf("the lag gauge was off by %.1f%% of the true backlog (%s)", 100*worst, worstAt)
	}
}

// ClickHouse stalled (SIGSTOP) and later killed under traffic: the stages
// wait and resume, up restarts its ClickHouse, no window closes short.
func TestClickHouseStallAndKill(t *testing.T) {
	h := newHooks(t)
	u := newUp(t, h.yaml())
	u.start()
	conn := u.conn()
	begin := time.Now()
	count, rate := pick(20000, 60000), 500.0
	done := load(t, loadgen.Config{Brokers: []string{u.kafkaAddr}, Count: count, Rate: rate, Seed: 2, Scenario: "toxicity-incident"})
	time.Sleep(pick(8*time.Second, 20*time.Second))
	pid := u.clickhousePID()
	stall := pick(20*time.Second, 150*time.Second)
	testenv.Must(t, syscall.Kill(pid, syscall.SIGSTOP), "SIGSTOP clickhouse")
	time.Sleep(stall)
	testenv.Must(t, syscall.Kill(pid, syscall.SIGCONT), "SIGCONT clickhouse")
	time.Sleep(5 * time.Second)
	testenv.Must(t, syscall.Kill(pid, syscall.SIGKILL), "SIGKILL clickhouse")
	res := <-done
	if res.Produced != int64(count) {
		t.Fatalf("loadgen produced %d of %d", res.Produced, count)
	}
	if newPID := u.clickhousePID(); newPID == pid {
		t.Fatal("the killed clickhouse-server is still there")
	}
	kw := settle(t, conn.reconnect(t, u.chPort), windows(), begin, uint64(count), pick(5*time.Minute, 10*time.Minute))
	firing := h.check(t)
	late, _ := metric(u.httpAddr, "sightline_aggregate_late_events_total")
	t.Logf("clickhouse stalled %s and killed once: %d events stored and counted in %d key-windows (%.0f late events merged); %d alerts fired once each",
		stall, count, kw, late, firing)
}

// The whole `up` process group SIGKILLed mid-stream and restarted on the
// same data directory.
func TestUpKilled(t *testing.T) {
	u := newUp(t, "")
	u.start()
	begin := time.Now()
	count := pick(20000, 100000)
	done := load(t, loadgen.Config{Brokers: []string{u.kafkaAddr}, Count: count, Rate: pick(800.0, 2000.0), Seed: 3})
	time.Sleep(pick(10*time.Second, 20*time.Second))
	u.p.kill()
	time.Sleep(time.Second)
	u.start()
	res := <-done
	if res.Produced != int64(count) {
		t.Fatalf("loadgen produced %d of %d (failed %d)", res.Produced, count, res.Failed)
	}
	kw := settle(t, u.conn().Conn, windows(), begin, uint64(count), pick(4*time.Minute, 10*time.Minute))
	t.Logf("up SIGKILLed once mid-stream: %d events stored and counted in %d key-windows", count, kw)
}

// splitSystem: the broker and ClickHouse owned by the test, the score and
// aggregate stages as separate processes that can be killed alone.
type splitSystem struct {
	t                  *testing.T
	dir                string
	b                  *broker.Broker
	conn               *chConn
	cfgPath            string
	scoreHTTP, aggHTTP string
	score, agg         *proc
}

func newSplit(t *testing.T, extra string) *splitSystem {
	s := &splitSystem{t: t, dir: t.TempDir()}
	s.b = testenv.Broker(t, filepath.Join(s.dir, "kafka"))
	c, opts := testenv.Database(t)
	s.conn = &chConn{c}
	s.scoreHTTP = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s.aggHTTP = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := fmt.Sprintf("clickhouse:\n  addr: %s\n  database: %s\nkafka:\n  brokers: [%s]\n"+
		"score:\n  batch_size: 1000\n  flush_interval: 200ms\n  transactional_id: faults-score\n  instance_id: faults-score-0\n",
		opts.Addrs[0], opts.Database, strings.Join(s.b.Addrs(), ","))
	cfg += windows().yaml() + "  instance_id: faults-aggregate-0\n" + extra
	s.cfgPath = filepath.Join(s.dir, "sightline.yaml")
	testenv.Must(t, os.WriteFile(s.cfgPath, []byte(cfg), 0o600), "config")
	return s
}

func (s *splitSystem) startScore() {
	s.score = start(s.t, s.dir, "score", nil, "score", "--config", s.cfgPath, "--http-addr", s.scoreHTTP)
	waitReady(s.t, s.scoreHTTP, 60*time.Second)
}

func (s *splitSystem) startAggregate() {
	s.agg = start(s.t, s.dir, "aggregate", nil, "aggregate", "--config", s.cfgPath, "--http-addr", s.aggHTTP)
	waitReady(s.t, s.aggHTTP, 60*time.Second)
}

// The aggregate stage SIGKILLed twice mid-stream (restarted each time);
// the alert incident inside the faulted period is notified once.
func TestAggregateKilledTwice(t *testing.T) {
	h := newHooks(t)
	s := newSplit(t, h.yaml())
	s.startScore()
	s.startAggregate()
	begin := time.Now()
	count, rate := pick(40000, 180000), 2000.0
	done := load(t, loadgen.Config{Brokers: s.b.Addrs(), Count: count, Rate: rate, Seed: 4, Scenario: "toxicity-incident"})
	run := time.Duration(float64(count) / rate * float64(time.Second))
	for _, at := range []float64{0.3, 0.6} {
		time.Sleep(time.Until(begin.Add(time.Duration(at * float64(run)))))
		s.agg.kill()
		s.startAggregate()
	}
	res := <-done
	if res.Produced != int64(count) {
		t.Fatalf("loadgen produced %d of %d", res.Produced, count)
	}
	kw := settle(t, s.conn.Conn, windows(), begin, uint64(count), pick(4*time.Minute, 10*time.Minute))
	firing := h.check(t)
	late, _ := metric(s.aggHTTP, "sightline_aggregate_late_events_total")
	t.Logf("aggregate SIGKILLed twice: %d events stored and counted in %d key-windows (the last instance merged %.0f late events); %d alerts fired once each",
		count, kw, late, firing)
}

// The score stage SIGKILLed mid-stream (twice in the full suite).
func TestScoreKilled(t *testing.T) {
	s := newSplit(t, "")
	s.startScore()
	s.startAggregate()
	begin := time.Now()
	count, rate := pick(30000, 120000), 2000.0
	done := load(t, loadgen.Config{Brokers: s.b.Addrs(), Count: count, Rate: rate, Seed: 5})
	run := time.Duration(float64(count) / rate * float64(time.Second))
	for _, at := range pick([]float64{0.4}, []float64{0.3, 0.6}) {
		time.Sleep(time.Until(begin.Add(time.Duration(at * float64(run)))))
		s.score.kill()
		s.startScore()
	}
	res := <-done
	if res.Produced != int64(count) {
		t.Fatalf("loadgen produced %d of %d", res.Produced, count)
	}
	kw := settle(t, s.conn.Conn, windows(), begin, uint64(count), pick(4*time.Minute, 10*time.Minute))
	t.Logf("score SIGKILLed %d time(s): %d events stored and counted in %d key-windows", len(pick([]float64{0.4}, []float64{0.3, 0.6})), count, kw)
}
