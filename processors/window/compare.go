package window

import (
	"math"

	"github.com/sightline-dev/sightline/processors/stats"
)

// abContinuous are the numeric features compared in A/B tests (an array:
// experiments keep a fixed-size state per feature).
var abContinuous = [...]int{numLatency, numTTFT, numInputTokens, numOutputTokens, numTotalTokens, numCost,
	numCompletionChars, numCompletionToxicity, numHallucination}

// Compare is the A/B comparison of a treatment against a control at one
// look (both partials hold all the data compared, e.g. one window, or all
// of an experiment's events). Differences are treatment − control. It
// returns the rows of CompareFixed and the ab_msprt rows of an Experiment
// with this single look: its p-value is 1/Λ and its interval the one-look
// always-valid interval. Across windows, the aggregate stage and `sightline
// report ab` run the sequential test instead: CompareFixed per window and
// an Experiment that accumulates its looks (Advance).
func Compare(control, treatment *Partial, cfg Config) []Signal {
	out := CompareFixed(control, treatment, cfg)
	if out == nil {
		return nil
	}
	ctl, trt := control.ABStats(), treatment.ABStats()
	e := NewExperiment(control.Key.Variant, treatment.Key.Variant, treatment.WindowStart)
	e.Look(treatment.WindowStart, &ctl, &trt, cfg)
	return append(out, e.Signals(cfg)...)
}

// CompareFixed is the fixed-horizon part of the A/B comparison of a
// treatment against a control (Group is the treatment's variant):
//
//   - events/count of the treatment (Details: control count).
//   - for each outcome with trials on both sides and positives on either:
//     <outcome>/ab_diff, the difference of rates with its Wald interval
//     and the pooled two-proportion z-test p-value
//     (stats.TwoProportionZTest).
//   - for each continuous metric (latency_ms, ttft_ms, tokens, cost_usd,
//     completion_chars, completion_toxicity, hallucination_risk):
//     <metric>/ab_welch, the difference of means with its interval and
//     Welch's p-value from the exact moments (stats.WelchTTestMoments);
//     for latency_ms also ab_mannwhitney on the bottom-k samples (Value:
//     the probability that a treatment latency exceeds a control one,
//     U/(n_t·n_c)).
//
// Each row's Decision is its own p-value < window.ab.alpha. These tests
// are valid at one pre-planned look only; the decision default is the
// sequential mSPRT (Experiment; Details["default"] = false here), unless
// window.ab.decision = "fixed" makes these the default.
func CompareFixed(control, treatment *Partial, cfg Config) []Signal {
	if control == nil || treatment == nil || control.lay == nil || treatment.lay == nil {
		return nil
	}
	c := cfg.withDefaults()
	group := treatment.Key.Variant
	base := map[string]any{"control": control.Key.Variant, "decision_test": c.AB.Decision}
	details := func(def bool, extra map[string]any) map[string]any {
		d := make(map[string]any, len(base)+len(extra)+1)
		for k, v := range base {
			d[k] = v
		}
		for k, v := range extra {
			d[k] = v
		}
		d["default"] = def
		return d
	}
	test := func(name, metric string, value float64, n uint64, p float64) Signal {
		s := row(name, metric, value, n)
		s.Group = group
		s.PValue, s.Threshold = ptr(p), ptr(c.AB.Alpha)
		s.Decision = p < c.AB.Alpha
		return s
	}
	msprtDefault := c.AB.Decision == DecisionMSPRT
	ev := row("events", "count", float64(treatment.count), treatment.count)
	ev.Group = group
	ev.Details = details(false, map[string]any{"control_n": control.count})
	out := []Signal{ev}

	ctl := control.ABStats()
	for i, name := range treatment.lay.outs.names {
		t, k := treatment.outcomes[i], ctl.outcome(name)
		if t.trials == 0 || k.trials == 0 || t.positives+k.positives == 0 {
			continue // nothing to compare (e.g. no errors on either side)
		}
		xt, nt, xc, nc := float64(t.positives), float64(t.trials), float64(k.positives), float64(k.trials)
		z := stats.TwoProportionZTest(xt, nt, xc, nc, c.Confidence)
		info := map[string]any{"control_rate": xc / nc, "treatment_rate": xt / nt, "control_n": k.trials}
		d := test(name, "ab_diff", z.Diff, t.trials, z.P)
		d.Lo, d.Hi = z.Lo, z.Hi
		d.Details = details(!msprtDefault, info)
		d.Details["test"], d.Details["z"] = "two_proportion_z", num(z.Z)
		out = append(out, d)
	}

	for _, i := range abContinuous {
		res := numericDefs[i].resolution
		mt, mc := treatment.moments[i].moments(res), control.moments[i].moments(res)
		if mt.N < 2 || mc.N < 2 {
			continue
		}
		name := numericDefs[i].name
		info := map[string]any{"control_mean": num(mc.Mean), "treatment_mean": num(mt.Mean), "control_n": uint64(mc.N),
			"control_sd": num(mc.StdDev()), "treatment_sd": num(mt.StdDev())}
		w := stats.WelchTTestMoments(mt, mc, c.Confidence)
		ws := test(name, "ab_welch", mt.Mean-mc.Mean, uint64(mt.N), w.P)
		ws.Lo, ws.Hi = w.Lo, w.Hi
		ws.Details = details(!msprtDefault, info)
		ws.Details["test"], ws.Details["t"], ws.Details["dof"] = "welch", num(w.T), num(w.DoF)
		out = append(out, ws)
		if i == numLatency && len(treatment.latSample.values) > 0 && len(control.latSample.values) > 0 {
			u := stats.MannWhitneyU(treatment.latSample.values, control.latSample.values)
			nt, nc := float64(len(treatment.latSample.values)), float64(len(control.latSample.values))
			mw := test(name, "ab_mannwhitney", u.U1/(nt*nc), uint64(nt), u.P)
			mw.Details = details(false, map[string]any{"test": "mann_whitney_u", "u": num(u.U1), "z": num(u.Z),
				"sample_treatment": len(treatment.latSample.values), "sample_control": len(control.latSample.values)})
			out = append(out, mw)
		}
	}
	for i := range out {
		if out[i].PValue != nil && math.IsNaN(*out[i].PValue) {
			out[i].PValue = nil
		}
	}
	return out
}
