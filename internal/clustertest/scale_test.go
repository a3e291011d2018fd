package clustertest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/internal/broker"
	"github.com/sightline-dev/sightline/internal/loadgen"
	"github.com/sightline-dev/sightline/internal/testenv"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// EnvCluster runs TestScaleOut (`make test-cluster`, or `make test` with
// it set): it keeps both cores of the project's VM busy for minutes.
const EnvCluster = "SIGHTLINE_CLUSTER"

// EnvScaleBench runs TestScaleOutBench (`make scale-bench`).
const EnvScaleBench = "SIGHTLINE_SCALE_BENCH"

// The scale-out run: loadgen's toxicity incident, paced, on 10 s windows.
const (
	scaleEvents   = 200_000
	scaleRate     = 3000.0 // events/s; the run spans scaleEvents/scaleRate of event time
	scaleSeed     = 13
	scaleScenario = "toxicity-incident"
	scaleWindow   = 10 * time.Second
	// No event of loadgen's latency spread is this late, so windows
	// close once, as they are first written, in both runs.
	scaleLateness   = 15 * time.Second
	scalePartitions = 6 // per topic: 2 per score instance, 3 per aggregate instance
	chOutage        = 30 * time.Second
)

// run is one pass of the scale-out traffic through a pipeline.
type run struct {
	base                  time.Time // event time of the first event
	produced, stored      time.Duration
	keyWindows            int
	signals               map[sigKey]sigVal
	incidents             []string
	scoreCPU, aggCPU, own time.Duration
	late, corrected       float64
}

// finish waits until every event is stored and counted, and for the
// incident's notifications (firing and resolved: the incident ends at 70 %
// of the run), then stops the stages and reads the signals.
func (r *run) finish(t *testing.T, p *pipeline, conn driver.Conn, h *hooks, begin time.Time, own0 time.Duration) {
	t.Helper()
	s := settle(t, conn, scaleWindow, r.base, scaleEvents, 10*time.Minute)
	r.stored, r.keyWindows = s.stored.Sub(begin), s.keyWindows
	r.own = selfCPU() - own0
	r.late = sumMetric(p.aggs, "sightline_aggregate_late_events_total")
	r.corrected = sumMetric(p.aggs, "sightline_aggregate_corrected_windows_total")
	testenv.Eventually(t, 2*time.Minute, "every incident notified as firing and resolved", func() (bool, string) {
		inc := h.incidents(r.base)
		for _, i := range inc {
			if !strings.Contains(i, "resolved") {
				return false, fmt.Sprint(inc)
			}
		}
		return len(inc) > 0, fmt.Sprint(inc)
	})
	r.scoreCPU, r.aggCPU = p.stop()
	// Stopped: every notification there will be has arrived.
	r.incidents = h.incidents(r.base)
	r.signals = signals(t, conn, scaleWindow, r.base)
}

// 200,000 events through 3 `sightline score` and 2 `sightline aggregate`
// processes on a 2 shards x 2 replicas ClickHouse cluster, while one score
// process is SIGKILLed and restarted, one ClickHouse replica (the first
// address of every process) is down for 30 s, and the aggregate process
// judging the toxicity incident is SIGKILLed and restarted once the
// incident was notified: exactly 200,000 distinct events in llm_events
// FINAL through the Distributed table, both replicas of each shard
// holding the same events, every window's signals counting exactly its
// stored events, and the same signal rows (n, value, interval, p-value,
// decision) and the same notifications (one firing, one resolved) as one
// score and one aggregate process on one ClickHouse server given the same
// events without a fault. It logs the figures of the README's sizing
// guide.
func TestScaleOut(t *testing.T) {
	if os.Getenv(EnvCluster) != "1" {
		t.Skipf("skipped: set %s=1 (make test-cluster) to run 200,000 events through 3 score and 2 aggregate processes on a 2x2 ClickHouse cluster "+
			"(about 5 minutes of both cores of a 2-core machine)", EnvCluster)
	}
	testStart := time.Now()
	c := testenv.StartCluster(t, 2, 2)
	conn, opts := c.Database(t)
	h := newHooks(t)
	p := newPipeline(t, pipelineConfig{ch: opts, scores: 3, aggs: 2, partitions: scalePartitions,
		window: scaleWindow, lateness: scaleLateness, extra: h.yaml()})
	p.start()
	// What everything costs doing nothing, for the sizing figures.
	idle := map[string]string{"ClickHouse (4 servers)": filepath.Join(c.Dir, "ch-"), "ZooKeeper": filepath.Join(c.Dir, "zookeeper"),
		"score (3)": "\x00score\x00--config\x00" + p.dir, "aggregate (2)": "\x00aggregate\x00--config\x00" + p.dir}
	idleTrackers := map[string]*cpuTracker{}
	for name, match := range idle {
		idleTrackers[name] = newCPUTracker(match)
	}
	const idleFor = 10 * time.Second
	time.Sleep(idleFor)
	var idleCPU []string
	for name, tr := range idleTrackers {
		tr.sample()
		idleCPU = append(idleCPU, fmt.Sprintf("%s %.1f%%", name, 100*tr.total().Seconds()/idleFor.Seconds()))
	}
	sort.Strings(idleCPU)
	t.Logf("idle CPU (%s before the traffic, in %% of one core): %s", idleFor, strings.Join(idleCPU, ", "))
	chCPU := newCPUTracker(filepath.Join(c.Dir, "ch-"))
	zkCPU := newCPUTracker(filepath.Join(c.Dir, "zookeeper"))

	var faults []string
	note := func(begin time.Time, format string, args ...any) {
		faults = append(faults, fmt.Sprintf("%5.1fs ", time.Since(begin).Seconds())+fmt.Sprintf(format, args...))
	}
	at := func(begin time.Time, d time.Duration) { time.Sleep(time.Until(begin.Add(d))) }
	// Event time starts on the next window boundary and advances by
	// 1/rate per event whenever it is produced.
	got := &run{base: time.Now().Truncate(scaleWindow).Add(scaleWindow)}
	own0 := selfCPU()
	begin := time.Now()
	done := load(t, loadgen.Config{Brokers: p.b.Addrs(), Count: scaleEvents, Rate: scaleRate, Seed: scaleSeed,
		Scenario: scaleScenario, Now: clock(got.base, scaleRate)})
	span := time.Duration(scaleEvents) * time.Second / time.Duration(scaleRate)

	at(begin, span/5)
	victim := p.scores[1]
	victim.cur().kill()
	note(begin, "SIGKILL %s", victim.name)
	victim.start()
	note(begin, "%s restarted and ready", victim.name)

	at(begin, span/4)
	chCPU.sample() // the killed server's CPU time so far
	c.Kill(0)
	down := time.Now()
	note(begin, "SIGKILL ClickHouse %s (the first address of every process)", c.Nodes[0])

	// The aggregate member judging support-bot is killed once the
	// incident's firing notification went out (it fires when the first
	// toxic window closes, around the end of the outage): its successor
	// must take the alert state from llm_alerts, not announce it again.
	var aggKilled, chBack bool
	for !aggKilled || !chBack {
		if !chBack && time.Since(down) >= chOutage {
			c.Start(t, 0)
			chBack = true
			note(begin, "ClickHouse %s restarted after %s", c.Nodes[0], time.Since(down).Round(100*time.Millisecond))
		}
		if !aggKilled && h.firing() {
			agg := supportBotAggregate(p)
			agg.cur().kill()
			note(begin, "SIGKILL %s (the member aggregating support-bot, its incident notified as firing)", agg.name)
			agg.start()
			note(begin, "%s restarted and ready", agg.name)
			aggKilled = true
		}
		if time.Since(begin) > span+2*time.Minute {
			t.Fatalf("no firing notification %s after the start (%v)", time.Since(begin).Round(time.Second), h.incidents(got.base))
		}
		time.Sleep(100 * time.Millisecond)
	}

	res := <-done
	got.produced = time.Since(begin)
	if res.Produced != scaleEvents {
		t.Fatalf("loadgen produced %d of %d events (%d failed)", res.Produced, scaleEvents, res.Failed)
	}
	got.finish(t, p, conn, h, begin, own0)
	chCPU.sample()
	zkCPU.sample()
	for _, f := range faults {
		t.Logf("fault at %s", f)
	}

	// Both replicas of each shard hold the same events (the restarted one
	// caught up), each event on one shard.
	replicas := replicaEvents(t, c, opts)
	// Storage: the active parts of llm_events on every node; each event is
	// on two of them.
	bytes, parts := storage(t, c, opts)

	t.Logf("scale-out run: %d events at %.0f/s paced (%d key-windows); produced in %s; all stored %s after the start: %.0f events/s end to end; "+
		"%.0f late events merged by %.0f corrected windows", scaleEvents, scaleRate, got.keyWindows, got.produced.Round(100*time.Millisecond),
		got.stored.Round(100*time.Millisecond), float64(scaleEvents)/got.stored.Seconds(), got.late, got.corrected)
	t.Logf("events per replica after the catch-up: %v", replicas)
	t.Logf("CPU per event (faults included: replayed batches and restarts): score %s (%s over 3 processes and their restarts), aggregate %s (%s over 2), "+
		"ClickHouse %s (%s over 4 servers), ZooKeeper %s, broker+loadgen (test process) %s",
		perEvent(got.scoreCPU, scaleEvents), got.scoreCPU.Round(10*time.Millisecond), perEvent(got.aggCPU, scaleEvents), got.aggCPU.Round(10*time.Millisecond),
		perEvent(chCPU.total(), scaleEvents), chCPU.total().Round(10*time.Millisecond), perEvent(zkCPU.total(), scaleEvents), perEvent(got.own, scaleEvents))
	t.Logf("llm_events storage: %.1f MiB in %d active parts on 4 nodes = %.1f MiB per replica per million events",
		float64(bytes)/(1<<20), parts, float64(bytes)/2/(1<<20)/(scaleEvents/1e6))
	t.Logf("notifications: %v", got.incidents)

	// The whole cluster goes before the reference run, so its figures are
	// its own.
	c.Close()

	// The reference: one score and one aggregate process on one ClickHouse
	// server, no fault, given a copy of the very events the scale-out run
	// consumed (event ids included), at the same pace, their time moved by
	// whole windows to now.
	//
	// Why not a second loadgen run of the seed: it makes the same calls,
	// but the SDK gives them other event ids, and the bottom-k samples
	// behind the text-drift MMD test and the A/B Mann-Whitney test pick
	// events by the hash of their id, so those rows would differ by
	// design. Why not the events as they were: minutes old, the last two
	// windows of every key close in one batch, and the aggregate stage
	// computes a window's drift before adding the window before it (in
	// the same batch) to the rolling baseline: the last window would have
	// no drift rows.
	refConn, refOpts := testenv.Database(t)
	refHooks := newHooks(t)
	rp := newPipeline(t, pipelineConfig{ch: refOpts, scores: 1, aggs: 1, partitions: scalePartitions,
		window: scaleWindow, lateness: scaleLateness, extra: refHooks.yaml()})
	rp.start()
	ref := &run{base: time.Now().Truncate(scaleWindow).Add(scaleWindow)}
	refCH := newCPUTracker(clickhouseConfig(t, refOpts.Addrs[0]))
	own0 = selfCPU()
	begin = time.Now()
	copied := copyEvents(t, p.b, rp.b, ref.base.Sub(got.base), scaleRate)
	ref.produced = time.Since(begin)
	t.Logf("the scale-out run's %d events copied to the reference run's broker in %s, %s later in event time",
		copied, ref.produced.Round(100*time.Millisecond), ref.base.Sub(got.base))
	if copied < scaleEvents {
		t.Fatalf("%d records in %s, %d events produced", copied, broker.TopicEvents, scaleEvents)
	}
	ref.finish(t, rp, refConn, refHooks, begin, own0)
	refCH.sample()
	refBytes, refParts := singleStorage(t, refConn, refOpts.Database)
	t.Logf("reference run (1 score, 1 aggregate, one ClickHouse, no fault): %d key-windows, all stored %s after the start (%.0f events/s); CPU per event: score %s, aggregate %s, ClickHouse %s, broker and copy (test process) %s; "+
		"llm_events %.1f MiB in %d parts = %.1f MiB per million events; notifications %v",
		ref.keyWindows, ref.stored.Round(100*time.Millisecond), float64(scaleEvents)/ref.stored.Seconds(), perEvent(ref.scoreCPU, scaleEvents), perEvent(ref.aggCPU, scaleEvents),
		perEvent(refCH.total(), scaleEvents), perEvent(ref.own, scaleEvents), float64(refBytes)/(1<<20), refParts, float64(refBytes)/(1<<20)/(scaleEvents/1e6), ref.incidents)

	// The same signals: every row (key, window relative to the run's
	// start, signal, metric, group) with the same n, decision, value,
	// interval and p-value.
	if got.keyWindows != ref.keyWindows {
		t.Errorf("%d key-windows, reference %d", got.keyWindows, ref.keyWindows)
	}
	if d, per := diffSignals(ref.signals, got.signals); len(d) > 0 {
		t.Errorf("%d of %d signal rows differ from the reference run's (per signal/metric: %v), e.g.:\n%s",
			len(d), len(ref.signals), per, strings.Join(d[:min(len(d), 20)], "\n"))
	}
	flagged, toxic := 0, 0
	for k, v := range ref.signals {
		if v.decision == 1 {
			flagged++
		}
		if k.signal == "toxicity" && k.metric == "rate" && k.grp == "" && v.value > 0.15 {
			toxic++
		}
	}
	t.Logf("signals compared: %d rows (%d with a positive decision, %d key-windows of toxicity rate above 0.15), the same in both runs unless reported above",
		len(ref.signals), flagged, toxic)
	if toxic == 0 || flagged == 0 {
		t.Errorf("the reference has %d toxic key-windows and %d positive decisions: the incident was not seen", toxic, flagged)
	}

	// The same alert: every incident notified firing once and resolved
	// once, at the same window as in the reference run.
	if fmt.Sprint(got.incidents) != fmt.Sprint(ref.incidents) {
		t.Errorf("notifications %v; the reference run's %v", got.incidents, ref.incidents)
	}
	for _, i := range got.incidents {
		if !strings.HasSuffix(i, ": firing resolved") {
			t.Errorf("incident %s: want one firing then one resolved notification", i)
		}
	}
	t.Logf("whole test %s", time.Since(testStart).Round(time.Second))
}

// supportBotAggregate is the aggregate member whose latest windows include
// support-bot (the app of the toxicity incident), or the first.
func supportBotAggregate(p *pipeline) *member {
	for _, m := range p.aggs {
		resp, err := http.Get("http://" + m.httpAddr + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), `app="support-bot"`) {
			return m
		}
	}
	return p.aggs[0]
}

// nodeConn connects to one node of the cluster alone.
func nodeConn(t *testing.T, opts chsink.Options, addr string) driver.Conn {
	t.Helper()
	o := opts
	o.Addrs, o.Cluster = []string{addr}, ""
	n, err := chsink.Open(context.Background(), o)
	testenv.Must(t, err, "connect to "+addr)
	return n
}

// replicaEvents waits until both replicas of every shard hold the same
// distinct events and the shards together hold every event once; it
// returns the count per node.
func replicaEvents(t *testing.T, c *testenv.Cluster, opts chsink.Options) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	testenv.Eventually(t, 3*time.Minute, "both replicas of each shard holding the same events", func() (bool, string) {
		perShard := map[int][]uint64{}
		for _, n := range c.Nodes {
			h := nodeConn(t, opts, n.Addr())
			var k uint64
			err := h.QueryRow(context.Background(), "SELECT uniqExact(event_id) FROM llm_events_local").Scan(&k)
			h.Close()
			if err != nil {
				return false, err.Error()
			}
			perShard[n.Shard] = append(perShard[n.Shard], k)
			out[fmt.Sprintf("s%d-r%d", n.Shard, n.Replica)] = k
		}
		var total uint64
		same := true
		for _, ks := range perShard {
			total += ks[0]
			same = same && ks[0] == ks[1]
		}
		return same && total == scaleEvents, fmt.Sprint(out)
	})
	return out
}

// partsBytes is the column of system.parts with a part's size on disk
// (bytes_on_disk; bytes on servers that predate it).
func partsBytes(t *testing.T, conn driver.Conn) string {
	t.Helper()
	var n uint64
	testenv.Must(t, conn.QueryRow(context.Background(),
		"SELECT count() FROM system.columns WHERE database = 'system' AND table = 'parts' AND name = 'bytes_on_disk'").Scan(&n), "system.parts columns")
	if n == 1 {
		return "bytes_on_disk"
	}
	return "bytes"
}

// storage sums the active parts of llm_events_local on every node.
func storage(t *testing.T, c *testenv.Cluster, opts chsink.Options) (bytes, parts uint64) {
	t.Helper()
	for _, n := range c.Nodes {
		h := nodeConn(t, opts, n.Addr())
		b, p := singleStorage(t, h, opts.Database+"\x00llm_events_local")
		h.Close()
		bytes += b
		parts += p
	}
	return bytes, parts
}

// singleStorage sums the active parts of one server's table db (or
// "db\x00table"; default table llm_events).
func singleStorage(t *testing.T, conn driver.Conn, db string) (bytes, parts uint64) {
	t.Helper()
	table := "llm_events"
	if d, tb, ok := strings.Cut(db, "\x00"); ok {
		db, table = d, tb
	}
	col := partsBytes(t, conn)
	testenv.Must(t, conn.QueryRow(context.Background(),
		"SELECT toUInt64(sum("+col+")), count() FROM system.parts WHERE database = ? AND table = ? AND active", db, table).Scan(&bytes, &parts),
		"system.parts")
	return bytes, parts
}

// The scale-out bench: end-to-end events/s with 1, 2 and 3 score
// processes (one aggregate process, one ClickHouse server, no fault),
// loadgen at full speed, from its start until every event is in
// llm_events; and the CPU time per event of each stage.
func TestScaleOutBench(t *testing.T) {
	if os.Getenv(EnvScaleBench) != "1" {
		t.Skipf("skipped: set %s=1 (make scale-bench) to measure throughput with 1, 2 and 3 score processes", EnvScaleBench)
	}
	const events = 100_000
	type row struct {
		scores                      int
		produced, stored            time.Duration
		score, agg, clickhouse, own time.Duration
	}
	var rows []row
	for scores := 1; scores <= 3; scores++ {
		conn, opts := testenv.Database(t)
		p := newPipeline(t, pipelineConfig{ch: opts, scores: scores, aggs: 1, partitions: scalePartitions,
			window: scaleWindow, lateness: 5 * time.Second})
		p.start()
		ch := newCPUTracker(clickhouseConfig(t, opts.Addrs[0]))
		own0 := selfCPU()
		begin := time.Now()
		done := load(t, loadgen.Config{Brokers: p.b.Addrs(), Count: events, Rate: 0, Seed: 7})
		var produced time.Duration
		testenv.Eventually(t, 10*time.Minute, "every event in llm_events", func() (bool, string) {
			select {
			case res := <-done:
				produced = time.Since(begin)
				if res.Produced != events {
					t.Fatalf("loadgen produced %d of %d events", res.Produced, events)
				}
				done = nil
			default:
			}
			var n uint64
			if err := conn.QueryRow(context.Background(), "SELECT count() FROM llm_events FINAL").Scan(&n); err != nil {
				return false, err.Error()
			}
			return n == events, strconv.FormatUint(n, 10)
		})
		r := row{scores: scores, stored: time.Since(begin)}
		if done != nil {
			<-done
			produced = time.Since(begin)
		}
		r.produced = produced
		// The aggregate stage's share: until every window is written.
		settle(t, conn, scaleWindow, begin.Add(-time.Minute), events, 5*time.Minute)
		ch.sample()
		r.own = selfCPU() - own0
		r.clickhouse = ch.total()
		r.score, r.agg = p.stop()
		rows = append(rows, r)
		t.Logf("%d score process(es): %d events stored in %s (%.0f/s)", scores, events, r.stored.Round(10*time.Millisecond), events/r.stored.Seconds())
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d events at full speed, 1 aggregate process, one ClickHouse server, %d partitions:\n", events, scalePartitions)
	fmt.Fprintf(&b, "| score processes | produced in | all stored in | events/s end to end | score CPU/event | aggregate CPU/event | ClickHouse CPU/event | broker+loadgen CPU/event |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %d | %s | %s | %.0f | %s | %s | %s | %s |\n", r.scores, r.produced.Round(10*time.Millisecond), r.stored.Round(10*time.Millisecond),
			events/r.stored.Seconds(), perEvent(r.score, events), perEvent(r.agg, events), perEvent(r.clickhouse, events), perEvent(r.own, events))
	}
	t.Log(b.String())
}

var tcpPort = regexp.MustCompile(`<tcp_port>(\d+)</tcp_port>`)

// clickhouseConfig finds the config file of the local clickhouse-server
// listening on addr (its command line names the file, whose tcp_port is
// addr's), for its CPU time; "" (which cpuOf matches with nothing) when
// there is none.
func clickhouseConfig(t *testing.T, addr string) string {
	t.Helper()
	_, port, _ := strings.Cut(addr, ":")
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !strings.Contains(string(cmd), "clickhouse") {
			continue
		}
		for _, arg := range strings.Split(string(cmd), "\x00") {
			file, ok := strings.CutPrefix(arg, "--config-file=")
			if !ok {
				continue
			}
			b, err := os.ReadFile(file)
			if m := tcpPort.FindSubmatch(b); err == nil && m != nil && string(m[1]) == port {
				return file
			}
		}
	}
	t.Logf("no clickhouse-server process found for %s: its CPU time is not measured", addr)
	return ""
}
