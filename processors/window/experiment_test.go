package window

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// abArms fills windows of a control (10% toxic, latency median 800 ms)
// and a treatment (14% toxic, median 1100 ms) with n events each.
func abArms(windows, n int) (ctl, trt []*Partial) {
	cfg := DefaultConfig()
	gc, gt := newGen(41), newGen(42)
	gt.toxRate, gt.latMu = 0.14, math.Log(1100)
	for w := 0; w < windows; w++ {
		kc, kt := testKey, testKey
		kc.Variant, kt.Variant = "control", "b"
		start := int64(w * 60)
		ctl = append(ctl, fill(NewPartial(kc, start, 60, cfg), gc, n))
		trt = append(trt, fill(NewPartial(kt, start, 60, cfg), gt, n))
	}
	return ctl, trt
}

func run(t testing.TB, ctl, trt []*Partial, cfg Config) (*Experiment, [][]Signal) {
	t.Helper()
	var e *Experiment
	var looks [][]Signal
	for i := range ctl {
		c, tr := ctl[i].ABStats(), trt[i].ABStats()
		var ok bool
		if e, ok = Advance(e, trt[i].Key, "control", ctl[i].WindowStart, &c, &tr, cfg); ok {
			looks = append(looks, e.Signals(cfg))
		}
	}
	return e, looks
}

// Each look's p-value is the running minimum of the one-look values 1/Λ
// on the cumulative data (Compare on the windows merged so far), and its
// interval the intersection of their intervals; the experiment's
// statistics are the exact sums of the windows'.
func TestExperimentAccumulatesAcrossWindows(t *testing.T) {
	cfg := DefaultConfig()
	ctl, trt := abArms(8, 150)
	e, looks := run(t, ctl, trt, cfg)
	if len(looks) != 8 || e.Looks != 8 || e.Start != 0 || e.Last != 7*60 {
		t.Fatalf("%d looks, experiment %d looks from %d to %d", len(looks), e.Looks, e.Start, e.Last)
	}
	var mc, mt *Partial
	minP := map[string]float64{}
	lo, hi := map[string]float64{}, map[string]float64{}
	decided := map[string]bool{}
	for i, rows := range looks {
		if mc == nil {
			mc, mt = ctl[i].Clone(), trt[i].Clone()
		} else {
			_ = mc.Merge(ctl[i])
			_ = mt.Merge(trt[i])
		}
		one := map[string]Signal{}
		for _, s := range Compare(mc, mt, cfg) {
			if s.Metric == "ab_msprt" {
				one[s.Name] = s
			}
		}
		if len(rows) != len(one) {
			t.Fatalf("look %d: %d sequential rows, %d one-look rows", i, len(rows), len(one))
		}
		for _, s := range rows {
			o := one[s.Name]
			if _, ok := minP[s.Name]; !ok {
				minP[s.Name], lo[s.Name], hi[s.Name] = 1, math.Inf(-1), math.Inf(1)
			}
			minP[s.Name] = math.Min(minP[s.Name], *o.PValue)
			lo[s.Name], hi[s.Name] = math.Max(lo[s.Name], o.Lo), math.Min(hi[s.Name], o.Hi)
			if *s.PValue != minP[s.Name] || s.Lo != lo[s.Name] || s.Hi != hi[s.Name] || s.Value != o.Value || s.N != o.N {
				t.Fatalf("look %d %s: p %v [%v, %v] diff %v n %d; want p %v [%v, %v] diff %v n %d", i, s.Name,
					*s.PValue, s.Lo, s.Hi, s.Value, s.N, minP[s.Name], lo[s.Name], hi[s.Name], o.Value, o.N)
			}
			if decided[s.Name] && !s.Decision {
				t.Fatalf("look %d %s: a decision was withdrawn", i, s.Name)
			}
			decided[s.Name] = s.Decision
			if s.Details["looks"] != i+1 || s.Details["experiment_start"] != int64(0) || s.Details["sequential"] != true || s.Group != "b" {
				t.Fatalf("look %d %s: details %v", i, s.Name, s.Details)
			}
		}
	}
	if !decided["latency_ms"] || !decided["toxicity"] {
		t.Errorf("latency ×1.375 and toxicity +4 points over 8×150 events per arm not decided: %v", decided)
	}
	c, tr := e.Cumulative()
	if c != mc.ABStats() || tr != mt.ABStats() {
		t.Error("cumulative statistics differ from the merged windows'")
	}
	// Per-window looks at the same data would have decided earlier or
	// later, never with a larger p: the sequential p-value only falls.
	first, last := looks[0], looks[len(looks)-1]
	for _, s := range last {
		if f, ok := find(first, s.Name, "ab_msprt", "b"); ok && *s.PValue > *f.PValue {
			t.Errorf("%s: p rose from %v to %v", s.Name, *f.PValue, *s.PValue)
		}
	}
}

// A stored experiment (MarshalJSON) restored and continued gives the rows
// of the one that never stopped.
func TestExperimentRestoredContinuesTheSameTest(t *testing.T) {
	cfg := DefaultConfig()
	ctl, trt := abArms(6, 100)
	whole, _ := run(t, ctl, trt, cfg)
	half, _ := run(t, ctl[:3], trt[:3], cfg)
	b, err := json.Marshal(half)
	if err != nil {
		t.Fatal(err)
	}
	var back Experiment
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	e := &back
	for i := 3; i < 6; i++ {
		c, tr := ctl[i].ABStats(), trt[i].ABStats()
		e, _ = Advance(e, trt[i].Key, "control", ctl[i].WindowStart, &c, &tr, cfg)
	}
	if !reflect.DeepEqual(e.Signals(cfg), whole.Signals(cfg)) {
		t.Fatalf("restored experiment differs:\n%v\n%v", e.Signals(cfg), whole.Signals(cfg))
	}
	look := ExperimentLook{Window: 120, Control: ctl[2].ABStats(), Treatment: trt[2].ABStats(), State: half}
	lb, _ := json.Marshal(look)
	var lback ExperimentLook
	// Statistics compare by their outcomes' names (the decoded ones list
	// them in name order), as their JSON does.
	same := func(a, b ABStats) bool {
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		return string(ja) == string(jb) && a.Count == b.Count
	}
	if err := json.Unmarshal(lb, &lback); err != nil || !same(lback.Control, look.Control) || !same(lback.Treatment, look.Treatment) || lback.Window != 120 {
		t.Fatalf("look round trip: %v", err)
	}
	for _, bad := range []string{`{"n":1,"outcomes":{"toxicity":[3,2]}}`, `[`} {
		var s ABStats
		if json.Unmarshal([]byte(bad), &s) == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if json.Unmarshal([]byte(`{"start":0,"metrics":{"toxicity":{"looks":1,"p":2,"lo":0,"hi":1}}}`), new(Experiment)) == nil {
		t.Error("p = 2 accepted")
	}
}

// Looks are the windows where both arms have events, from the configured
// start; a start later than the experiment's begins a new one.
func TestAdvanceStartsAndLooks(t *testing.T) {
	cfg := DefaultConfig()
	ctl, trt := abArms(4, 50)
	c0, t0, empty := ctl[0].ABStats(), trt[0].ABStats(), ABStats{}
	if e, ok := Advance(nil, trt[0].Key, "control", 0, &c0, &empty, cfg); ok || e != nil {
		t.Fatal("a window without treatment events is a look")
	}
	e, ok := Advance(nil, trt[0].Key, "control", 0, &c0, &t0, cfg)
	if !ok || e.Start != 0 || e.Looks != 1 {
		t.Fatalf("first look: %+v", e)
	}
	c1 := ctl[1].ABStats()
	if _, ok := Advance(e, trt[1].Key, "control", 60, &c1, &empty, cfg); ok || e.Looks != 1 {
		t.Fatal("a window without treatment events changed the experiment")
	}
	at := func(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }
	cfg.AB.Start = at(100)
	c2, t2 := ctl[2].ABStats(), trt[2].ABStats()
	if _, ok := Advance(e.Clone(), trt[1].Key, "control", 60, &c2, &t2, cfg); ok {
		t.Fatal("a window before window.ab.start is a look")
	}
	e2, ok := Advance(e.Clone(), trt[2].Key, "control", 120, &c2, &t2, cfg)
	if !ok || e2.Start != 120 || e2.Looks != 1 {
		t.Fatalf("window.ab.start after the experiment's start must begin a new one: %+v", e2)
	}
	// The latest matching start applies; other treatments keep theirs.
	cfg.AB.Starts = []ABStart{{App: "a", Variant: "b", Start: at(200)}, {App: "other", Start: at(900)}, {Variant: "b", Start: at(150)}}
	if s, ok := cfg.AB.StartFor(trt[0].Key); !ok || s != 200 {
		t.Fatalf("StartFor = %d, %v; want 200", s, ok)
	}
	if s, _ := cfg.AB.StartFor(Key{App: "a", Variant: "c"}); s != 100 {
		t.Fatalf("StartFor of another treatment = %d, want window.ab.start 100", s)
	}
	if _, ok := DefaultConfig().AB.StartFor(trt[0].Key); ok {
		t.Fatal("no start configured, yet one found")
	}
	for _, bad := range []func(*Config){
		func(c *Config) { c.AB.Start = "yesterday" },
		func(c *Config) { c.AB.Starts = []ABStart{{App: "a", Start: "2025-13-01"}} },
	} {
		c := DefaultConfig()
		bad(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "window.ab.start") {
			t.Errorf("bad start accepted: %v", err)
		}
	}
}

// The offline report splits a file into windows by event time and gives
// the same experiment as the windows fed to Advance one by one.
func TestABExperimentReport(t *testing.T) {
	cfg := DefaultConfig()
	const windows, n = 5, 120
	gc, gt := newGen(51), newGen(52)
	gt.latMu = math.Log(1100)
	d := &Dataset{Partials: map[string]*Partial{}}
	split := ABWindowSplit(time.Minute)
	var ctl, trt []*Partial
	for w := 0; w < windows; w++ {
		for _, arm := range []struct {
			g       *gen
			variant string
			out     *[]*Partial
		}{{gc, "control", &ctl}, {gt, "b", &trt}} {
			k := testKey
			k.Variant = arm.variant
			p := NewPartial(k, int64(w*60), 60, cfg)
			for i := 0; i < n; i++ {
				ev, s := arm.g.next()
				ev.Variant = arm.variant
				ev.Ts = timestamppb.New(time.Unix(int64(w*60+i%60), 0))
				name := split(ev)
				if d.Partials[name] == nil {
					d.Partials[name] = NewPartial(Key{Variant: name}, 0, 0, cfg)
				}
				d.Partials[name].Add(ev, nil, s)
				p.Add(ev, nil, s)
			}
			*arm.out = append(*arm.out, p)
		}
	}
	res, err := ABExperimentReport(d, "", time.Minute, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want, looks := run(t, ctl, trt, cfg)
	if res.Control != "control" || res.Windows != windows || len(res.Looks) != len(looks) {
		t.Fatalf("control %q, %d windows, %d looks", res.Control, res.Windows, len(res.Looks))
	}
	if !reflect.DeepEqual(res.Sequential, want.Signals(cfg)) {
		t.Fatalf("report:\n%v\nwant:\n%v", res.Sequential, want.Signals(cfg))
	}
	if s, ok := find(res.Fixed, "latency_ms", "ab_welch", "b"); !ok || s.N != windows*n {
		t.Fatalf("fixed-horizon rows over the whole file: %+v", s)
	}
	if _, err := ABExperimentReport(d, "missing", time.Minute, cfg); err == nil {
		t.Fatal("missing control accepted")
	}
}
