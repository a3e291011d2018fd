package window

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sightline-dev/sightline/schemas/eventpb"
)

// abSep separates the A/B group from the window start in the names
// ABWindowSplit gives.
const abSep = "\x00"

// ABWindowSplit returns a LoadOptions.Split that puts each event into the
// partial of its A/B group (VariantOf) and event-time window of the given
// size, as the score stage assigns events to windows (the call's start
// time truncated to the window size). ABExperimentReport reads datasets
// split this way.
func ABWindowSplit(size time.Duration) func(*eventpb.Event) string {
	return func(ev *eventpb.Event) string {
		start := ev.GetTs().AsTime().Truncate(size).Unix()
		return VariantOf(ev) + abSep + strconv.FormatInt(start, 10)
	}
}

// ABLook is one look of an experiment in a report: the window it closed
// and the experiment's ab_msprt rows after it.
type ABLook struct {
	Variant string   `json:"variant"`
	Window  int64    `json:"window_start"`
	Signals []Signal `json:"signals"`
}

// ABExperimentResult is the A/B report of a file split into windows.
type ABExperimentResult struct {
	Control       string `json:"control"`
	ControlEvents uint64 `json:"control_events"`
	WindowSeconds uint32 `json:"window_seconds"`
	// Windows is the number of windows with events of any group.
	Windows int `json:"windows"`
	// Fixed holds CompareFixed's rows of each treatment against the
	// control over the whole file: valid if the file is the experiment's
	// one pre-planned look.
	Fixed []Signal `json:"fixed"`
	// Sequential holds the ab_msprt rows of each experiment after its
	// last look: the always-valid p-values and confidence sequences over
	// the windows, as the aggregate stage stores them window by window.
	Sequential []Signal `json:"sequential"`
	// Looks holds every look's rows, in window order.
	Looks []ABLook `json:"looks"`
}

// ABExperimentReport runs the A/B comparison of d, a dataset loaded with
// ABWindowSplit(size), as the aggregate stage does over closed windows:
// for every group other than the control (control "" picks "control" when
// present, else the group with the most events), an Experiment advanced
// window by window (Advance: the looks are the windows where both have
// events, from the configured start on), and the fixed-horizon tests over
// all of the file.
func ABExperimentReport(d *Dataset, control string, size time.Duration, cfg Config) (*ABExperimentResult, error) {
	windows := map[string]map[int64]*Partial{}
	starts := map[int64]bool{}
	for name, p := range d.Partials {
		group, w, ok := strings.Cut(name, abSep)
		start, err := strconv.ParseInt(w, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("dataset partial %q is not split by ABWindowSplit", name)
		}
		if windows[group] == nil {
			windows[group] = map[int64]*Partial{}
		}
		windows[group][start] = p
		starts[start] = true
	}
	names := make([]string, 0, len(windows))
	totals := map[string]*Partial{}
	for g, ws := range windows {
		names = append(names, g)
		var total *Partial
		for _, p := range ws {
			c := p.Clone()
			c.Key = Key{Variant: g}
			if total == nil {
				total = c
			} else if err := total.Merge(c); err != nil {
				return nil, fmt.Errorf("cannot merge the windows of %q: %w", g, err)
			}
		}
		totals[g] = total
	}
	sort.Strings(names)
	if control == "" {
		if _, ok := windows["control"]; ok {
			control = "control"
		} else {
			var best uint64
			for _, n := range names {
				if c := totals[n].Count(); c > best {
					control, best = n, c
				}
			}
		}
	}
	if windows[control] == nil {
		return nil, fmt.Errorf("control group %q not found (groups: %v)", control, names)
	}
	order := make([]int64, 0, len(starts))
	for s := range starts {
		order = append(order, s)
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	res := &ABExperimentResult{Control: control, ControlEvents: totals[control].Count(), WindowSeconds: uint32(size / time.Second), Windows: len(order)}
	for _, n := range names {
		if n == control {
			continue
		}
		res.Fixed = append(res.Fixed, CompareFixed(totals[control], totals[n], cfg)...)
		var e *Experiment
		for _, w := range order {
			ctl, trt := windows[control][w].ABStats(), windows[n][w].ABStats()
			var looked bool
			if e, looked = Advance(e, Key{Variant: n}, control, w, &ctl, &trt, cfg); looked {
				res.Looks = append(res.Looks, ABLook{Variant: n, Window: w, Signals: e.Signals(cfg)})
			}
		}
		if e != nil {
			res.Sequential = append(res.Sequential, e.Signals(cfg)...)
		}
	}
	return res, nil
}
