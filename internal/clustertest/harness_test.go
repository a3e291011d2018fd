package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sightline-dev/sightline/internal/broker"
	"github.com/sightline-dev/sightline/internal/chlocal"
	"github.com/sightline-dev/sightline/internal/loadgen"
	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/schemas/eventpb"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
	"github.com/sightline-dev/sightline/sinks/notify"
)

// The stages run as `sightline score` and `sightline aggregate`
// subprocesses, as an operator runs them past one machine: each can be
// SIGKILLed alone, and each one's CPU time is its own.

// bins holds the binary each test built (in its temporary directory,
// removed with it).
var bins sync.Map // *testing.T -> path

// binary builds the sightline binary once per test.
func binary(t *testing.T) string {
	t.Helper()
	if p, ok := bins.Load(t); ok {
		return p.(string)
	}
	path := filepath.Join(t.TempDir(), "sightline")
	cmd := exec.Command("go", "build", "-o", path, "github.com/sightline-dev/sightline/cmd/sightline")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cannot build sightline: %v\n%s", err, out)
	}
	bins.Store(t, path)
	return path
}

func freeAddr(t *testing.T) string {
	t.Helper()
	p, err := chlocal.FreePort()
	testenv.Must(t, err, "free port")
	return "127.0.0.1:" + strconv.Itoa(p)
}

// proc is one run of a sightline process, in its own process group.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	cpu  time.Duration // user + system, set once done is closed
}

// kill SIGKILLs the process group and waits.
func (p *proc) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// stop asks the process to stop (SIGTERM), then kills it.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.kill()
	}
}

// member is one stage instance (score or aggregate) with its own config
// file and HTTP address, restarted as the same group member after a kill.
type member struct {
	t          *testing.T
	dir        string
	name, role string // role: score or aggregate
	cfgPath    string
	httpAddr   string
	runs       []*proc
}

func (m *member) cur() *proc { return m.runs[len(m.runs)-1] }

// start runs the member and waits for /readyz.
func (m *member) start() {
	t := m.t
	t.Helper()
	cmd := exec.Command(binary(t), m.role, "--config", m.cfgPath, "--http-addr", m.httpAddr)
	cmd.Env = os.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	logf, err := os.OpenFile(filepath.Join(m.dir, m.name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	testenv.Must(t, err, "log file")
	cmd.Stdout, cmd.Stderr = logf, logf
	testenv.Must(t, cmd.Start(), "start "+m.name)
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		if st := cmd.ProcessState; st != nil {
			p.cpu = st.UserTime() + st.SystemTime()
		}
		logf.Close()
		close(p.done)
	}()
	m.runs = append(m.runs, p)
	t.Cleanup(p.stop)
	waitReady(t, m.httpAddr, 90*time.Second)
}

// cpu is the CPU time of every run of the member; all must have ended.
func (m *member) cpu() time.Duration {
	var d time.Duration
	for _, p := range m.runs {
		<-p.done
		d += p.cpu
	}
	return d
}

// logTail logs the end of the member's log (on failure).
func (m *member) logTail() {
	b, err := os.ReadFile(filepath.Join(m.dir, m.name+".log"))
	if err != nil {
		return
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	m.t.Logf("end of %s.log:\n%s", m.name, b)
}

// waitReady polls /readyz.
func waitReady(t *testing.T, httpAddr string, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, timeout, "/readyz of "+httpAddr, func() (bool, string) {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, string(b)
	})
}

// metric sums the samples of a metric on a /metrics endpoint (0 when
// absent).
func metric(httpAddr, name string) (float64, error) {
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
		}
	}
	return sum, nil
}

// pipeline is a broker of its own and the stage members writing to one
// database.
type pipeline struct {
	t          *testing.T
	dir        string
	b          *broker.Broker
	partitions int32
	scores     []*member
	aggs       []*member
}

// pipelineConfig is what a pipeline's members share.
type pipelineConfig struct {
	ch               chsink.Options
	scores, aggs     int
	partitions       int32
	window, lateness time.Duration
	extra            string // appended YAML (alerts:)
}

// newPipeline starts the broker (partitions per topic) and writes one
// config file per member: score and aggregate instances each have their
// own static group membership and transactional id.
func newPipeline(t *testing.T, pc pipelineConfig) *pipeline {
	t.Helper()
	p := &pipeline{t: t, dir: t.TempDir(), partitions: pc.partitions}
	b, err := broker.Start(broker.Config{Port: -1, DataDir: filepath.Join(p.dir, "kafka"), Partitions: pc.partitions})
	testenv.Must(t, err, "start the in-process broker")
	t.Cleanup(b.Close)
	p.b = b
	clusterLine := ""
	if pc.ch.Cluster != "" {
		clusterLine = fmt.Sprintf("  cluster: %s\n  ddl_timeout: 60s\n", pc.ch.Cluster)
	}
	for i := 0; i < max(pc.scores, pc.aggs); i++ {
		cfg := fmt.Sprintf("clickhouse:\n  addr: %s\n  database: %s\n%s"+
			"kafka:\n  brokers: [%s]\n"+
			"score:\n  transactional_id: scale-score-%d\n  instance_id: scale-score-%d\n"+
			"aggregate:\n  instance_id: scale-aggregate-%d\n  window: %s\n  lateness: %s\n  idle_close: 3s\n  rollup: -1s\n  baseline_windows: 1\n%s",
			strings.Join(pc.ch.Addrs, ","), pc.ch.Database, clusterLine, strings.Join(b.Addrs(), ","),
			i, i, i, pc.window, pc.lateness, pc.extra)
		path := filepath.Join(p.dir, fmt.Sprintf("sightline-%d.yaml", i))
		testenv.Must(t, os.WriteFile(path, []byte(cfg), 0o600), "config")
		if i < pc.scores {
			p.scores = append(p.scores, &member{t: t, dir: p.dir, name: fmt.Sprintf("score-%d", i), role: "score", cfgPath: path, httpAddr: freeAddr(t)})
		}
		if i < pc.aggs {
			p.aggs = append(p.aggs, &member{t: t, dir: p.dir, name: fmt.Sprintf("aggregate-%d", i), role: "aggregate", cfgPath: path, httpAddr: freeAddr(t)})
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, m := range append(append([]*member{}, p.scores...), p.aggs...) {
				m.logTail()
			}
		}
	})
	return p
}

// start starts every member and waits until each group has settled, as
// the broker sees it: every partition assigned and every member owning
// some (else the traffic starts with a rebalance, whose aborted batches
// are not what a fault test means to show).
func (p *pipeline) start() {
	for _, m := range append(append([]*member{}, p.scores...), p.aggs...) {
		m.start()
	}
	p.waitGroup("sightline-score", broker.TopicEvents, len(p.scores))
	p.waitGroup("sightline-aggregate", broker.TopicPartials, len(p.aggs))
}

// waitGroup waits until group is stable with members members, each owning
// some partitions of topic and all of them owned; it logs the assignment
// and, per member, what its sightline_*_assigned_partitions gauge says.
func (p *pipeline) waitGroup(group, topic string, members int) {
	t := p.t
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.b.Addrs()...))
	testenv.Must(t, err, "admin client")
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var owned map[string][]int32
	testenv.Eventually(t, 90*time.Second, "group "+group+" stable with every partition owned", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		gs, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			return false, err.Error()
		}
		g := gs[group]
		owned = map[string][]int32{}
		total := 0
		for _, m := range g.Members {
			id := m.MemberID
			if m.InstanceID != nil {
				id = *m.InstanceID
			}
			if ca, ok := m.Assigned.AsConsumer(); ok {
				for _, tp := range ca.Topics {
					if tp.Topic == topic {
						owned[id] = append(owned[id], tp.Partitions...)
						total += len(tp.Partitions)
					}
				}
			}
		}
		busy := 0
		for _, ps := range owned {
			if len(ps) > 0 {
				busy++
			}
		}
		ok := g.State == "Stable" && len(g.Members) == members && busy == members && total == int(p.partitions)
		return ok, fmt.Sprintf("%s %v", g.State, owned)
	})
	// What each member's gauge says (refreshed every second).
	ms, gauge := p.aggs, "sightline_aggregate_assigned_partitions"
	if group == "sightline-score" {
		ms, gauge = p.scores, "sightline_score_assigned_partitions"
	}
	var says []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		says = says[:0]
		same := true
		for i, m := range ms {
			v, _ := metric(m.httpAddr, gauge)
			id := fmt.Sprintf("scale-%s-%d", m.role, i)
			says = append(says, fmt.Sprintf("%s=%g", id, v))
			same = same && int(v) == len(owned[id])
		}
		if same || time.Now().After(deadline) {
			if !same {
				t.Logf("%s: the members' %s gauges (%v) differ from the group's assignment %v", group, gauge, says, owned)
			}
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%s: %v (gauges %v)", group, owned, says)
}

// stop stops every member in order and returns the CPU time per role.
func (p *pipeline) stop() (score, aggregate time.Duration) {
	for _, m := range p.scores {
		m.cur().stop()
		score += m.cpu()
	}
	for _, m := range p.aggs {
		m.cur().stop()
		aggregate += m.cpu()
	}
	return score, aggregate
}

// sum of a metric over the current runs of members.
func sumMetric(ms []*member, name string) float64 {
	var s float64
	for _, m := range ms {
		v, _ := metric(m.httpAddr, name)
		s += v
	}
	return s
}

// clock is loadgen's event clock: the i-th event is at base + i/rate,
// whenever it is produced, so two runs of one seed make the same events
// in the same windows relative to base.
func clock(base time.Time, rate float64) func() time.Time {
	var i int64
	return func() time.Time {
		at := base.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		i++
		return at
	}
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

// copyEvents copies every event of the events topic on from (up to its
// end offsets now) to the same partition on to, in order, its time moved
// by shift, rate events per second in all (fetched in small slices of
// each partition in turn, so the partitions advance together as they did
// when first produced), and returns how many it copied.
func copyEvents(t *testing.T, from, to *broker.Broker, shift time.Duration, rate float64) int {
	t.Helper()
	topic := broker.TopicEvents
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	admin, err := kgo.NewClient(kgo.SeedBrokers(from.Addrs()...))
	testenv.Must(t, err, "admin client")
	defer admin.Close()
	ends, err := kadm.NewClient(admin).ListEndOffsets(ctx, topic)
	testenv.Must(t, err, "list end offsets")
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	src, err := kgo.NewClient(kgo.SeedBrokers(from.Addrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(256<<10), kgo.FetchMaxPartitionBytes(32<<10))
	testenv.Must(t, err, "consumer")
	defer src.Close()
	dst, err := kgo.NewClient(kgo.SeedBrokers(to.Addrs()...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(4<<20))
	testenv.Must(t, err, "producer")
	defer dst.Close()
	n := 0
	begin := time.Now()
	for len(left) > 0 {
		fs := src.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("cannot copy %s: %v (left: %v)", topic, err, left)
		}
		var batch []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := left[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			var ev eventpb.Event
			testenv.Must(t, proto.Unmarshal(r.Value, &ev), "decode an event")
			ev.Ts = timestamppb.New(ev.GetTs().AsTime().Add(shift))
			v, err := proto.Marshal(&ev)
			testenv.Must(t, err, "encode an event")
			batch = append(batch, &kgo.Record{Key: r.Key, Value: v, Headers: r.Headers, Partition: r.Partition})
			if r.Offset == end-1 {
				delete(left, r.Partition)
			}
		})
		testenv.Must(t, dst.ProduceSync(ctx, batch...).FirstErr(), "produce the copy")
		n += len(batch)
		time.Sleep(time.Until(begin.Add(time.Duration(float64(n) / rate * float64(time.Second)))))
	}
	return n
}

// settled is what settle found.
type settled struct {
	keyWindows int
	stored     time.Time // when llm_events FINAL first held every event
}

// settle waits until want distinct events are in llm_events FINAL and,
// for every key and window, the signals counted exactly the events stored
// (sum(n) of events/count in llm_signals FINAL against count() of
// llm_events FINAL, as internal/faults does).
func settle(t *testing.T, conn driver.Conn, window time.Duration, base time.Time, want uint64, timeout time.Duration) settled {
	t.Helper()
	var s settled
	testenv.Eventually(t, timeout, "every event stored and counted by the signals of its key and window", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		counts, err := chsink.ReconcileWindows(ctx, conn, uint32(window/time.Second), base.Add(-time.Hour), base.Add(time.Hour))
		if err != nil {
			return false, err.Error()
		}
		var events, signals uint64
		var bad []string
		for _, c := range counts {
			events += c.Events
			signals += c.Signals
			if c.Signals != c.Events && len(bad) < 5 {
				bad = append(bad, fmt.Sprintf("%s/%s/%s/%s@%+ds: %d signals, %d events", c.Key.Tenant, c.Key.App, c.Key.Model, c.Key.Variant,
					int(c.WindowStart.Sub(base)/time.Second), c.Signals, c.Events))
			}
		}
		if events == want && s.stored.IsZero() {
			s.stored = time.Now()
		}
		s.keyWindows = len(counts)
		return events == want && signals == want && len(bad) == 0,
			fmt.Sprintf("%d events stored, %d counted by signals, of %d sent; %d key-windows; differing: %v", events, signals, want, len(counts), bad)
	})
	var final, distinct uint64
	testenv.Must(t, conn.QueryRow(context.Background(), "SELECT count() FROM llm_events FINAL").Scan(&final), "count FINAL")
	testenv.Must(t, conn.QueryRow(context.Background(), "SELECT uniqExact(event_id) FROM llm_events").Scan(&distinct), "distinct event ids")
	if final != want || distinct != want {
		t.Fatalf("llm_events FINAL holds %d events (%d distinct ids), %d sent", final, distinct, want)
	}
	return s
}

// sigKey is one signal row's identity, its window relative to the run's
// base time.
type sigKey struct {
	tenant, app, model, variant string
	rel                         int64 // window_start - base, seconds
	seconds                     uint32
	signal, metric, grp         string
}

func (k sigKey) String() string {
	g := ""
	if k.grp != "" {
		g = "[" + k.grp + "]"
	}
	return fmt.Sprintf("%s/%s/%s/%s@%+ds %s/%s%s", k.tenant, k.app, k.model, k.variant, k.rel, k.signal, k.metric, g)
}

type sigVal struct {
	value          float64
	n              uint64
	lo, hi, p, thr *float64
	decision       uint8
}

// signals reads llm_signals FINAL of the window size, keyed relative to
// base.
func signals(t *testing.T, conn driver.Conn, window time.Duration, base time.Time) map[sigKey]sigVal {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT tenant, app, model, variant, toInt64(toUInt32(window_start)), window_seconds,
		signal, metric, grp, value, n, lo, hi, p_value, threshold, decision
		FROM llm_signals FINAL WHERE window_seconds = ?`, uint32(window/time.Second))
	testenv.Must(t, err, "read llm_signals")
	defer rows.Close()
	out := map[sigKey]sigVal{}
	for rows.Next() {
		var k sigKey
		var v sigVal
		var ws int64
		testenv.Must(t, rows.Scan(&k.tenant, &k.app, &k.model, &k.variant, &ws, &k.seconds, &k.signal, &k.metric, &k.grp,
			&v.value, &v.n, &v.lo, &v.hi, &v.p, &v.thr, &v.decision), "scan llm_signals")
		k.rel = ws - base.Unix()
		out[k] = v
	}
	testenv.Must(t, rows.Err(), "read llm_signals")
	return out
}

func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func sameOpt(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return sameFloat(*a, *b)
}

func fmtOpt(f *float64) string {
	if f == nil {
		return "null"
	}
	return strconv.FormatFloat(*f, 'g', 10, 64)
}

// diffSignals lists the rows that are not the same in both runs: missing
// on one side, another n or decision, or another value, interval,
// p-value or threshold (beyond 1e-9 relative); and their number per
// signal/metric.
func diffSignals(want, got map[sigKey]sigVal) (out []string, per map[string]int) {
	per = map[string]int{}
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			per[k.signal+"/"+k.metric]++
			out = append(out, fmt.Sprintf("%s: missing (reference: value %g, n %d, decision %d)", k, w.value, w.n, w.decision))
		case g.n != w.n || g.decision != w.decision || !sameFloat(g.value, w.value) || !sameOpt(g.lo, w.lo) || !sameOpt(g.hi, w.hi) ||
			!sameOpt(g.p, w.p) || !sameOpt(g.thr, w.thr):
			per[k.signal+"/"+k.metric]++
			out = append(out, fmt.Sprintf("%s: value %g n %d decision %d lo %s hi %s p %s; reference value %g n %d decision %d lo %s hi %s p %s",
				k, g.value, g.n, g.decision, fmtOpt(g.lo), fmtOpt(g.hi), fmtOpt(g.p), w.value, w.n, w.decision, fmtOpt(w.lo), fmtOpt(w.hi), fmtOpt(w.p)))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			per[k.signal+"/"+k.metric]++
			out = append(out, fmt.Sprintf("%s: not in the reference (value %g, n %d, decision %d)", k, g.value, g.n, g.decision))
		}
	}
	sort.Strings(out)
	return out, per
}

// hooks is a webhook receiver recording alert notifications.
type hooks struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []notify.Notification
}

func newHooks(t *testing.T) *hooks {
	h := &hooks{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n notify.Notification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.got = append(h.got, n)
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// firing reports whether a firing notification arrived.
func (h *hooks) firing() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range h.got {
		if n.State == "firing" {
			return true
		}
	}
	return false
}

// incidents summarises the notifications: per alert, its states in
// arrival order with the incident's start relative to base, e.g.
// "toxic-support@+20s: firing resolved".
func (h *hooks) incidents(base time.Time) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []string
	per := map[string][]string{}
	start := map[string]time.Time{}
	rule := map[string]string{}
	for _, n := range h.got {
		if _, ok := per[n.AlertID]; !ok {
			ids = append(ids, n.AlertID)
			start[n.AlertID] = n.StartsAt
			rule[n.AlertID] = n.Rule
		}
		s := n.State
		if n.Repeat {
			s += "(repeat)"
		}
		per[n.AlertID] = append(per[n.AlertID], s)
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, fmt.Sprintf("%s@%+ds: %s", rule[id], int(start[id].Sub(base)/time.Second), strings.Join(per[id], " ")))
	}
	sort.Strings(out)
	return out
}

func (h *hooks) yaml() string {
	return fmt.Sprintf(`alerts:
  actions:
    - {name: hook, type: webhook, url: %s, timeout: 2s}
  rules:
    - name: toxic-support
      signal: toxicity/rate
      match: {app: support-bot}
      operator: ">"
      threshold: 0.15
      for: 1
      min_samples: 20
      severity: critical
      actions: [hook]
`, h.srv.URL)
}

// cpuOf reads utime+stime of every process whose command line contains
// substr (/proc/<pid>/stat, in clock ticks of 1/100 s); none for "".
func cpuOf(substr string) map[int]time.Duration {
	out := map[int]time.Duration{}
	if substr == "" {
		return out
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !strings.Contains(string(cmd), substr) {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The fields after the command name (which may hold spaces):
		// utime and stime are fields 14 and 15 of the whole line.
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		out[pid] = time.Duration(ut+st) * 10 * time.Millisecond
	}
	return out
}

// cpuTracker adds up the CPU time processes matching a pattern spent
// between its first and last samples, including processes that exited
// (or were killed) after a sample and ones that started after the first.
type cpuTracker struct {
	substr      string
	first, last map[int]time.Duration
}

func newCPUTracker(substr string) *cpuTracker {
	s := cpuOf(substr)
	last := map[int]time.Duration{}
	for k, v := range s {
		last[k] = v
	}
	return &cpuTracker{substr: substr, first: s, last: last}
}

func (c *cpuTracker) sample() {
	for pid, v := range cpuOf(c.substr) {
		c.last[pid] = v
	}
}

func (c *cpuTracker) total() time.Duration {
	var d time.Duration
	for pid, v := range c.last {
		d += v - c.first[pid]
	}
	return d
}

// selfCPU is the test process's own CPU time (the in-process broker and
// loadgen).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perEvent formats a CPU time per event in µs.
func perEvent(d time.Duration, events int) string {
	return fmt.Sprintf("%.1f µs", float64(d.Microseconds())/float64(events))
}
