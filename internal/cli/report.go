package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sightline-dev/sightline/internal/config"
	"github.com/sightline-dev/sightline/processors/detectors/registry"
	"github.com/sightline-dev/sightline/processors/detectors/runner"
	"github.com/sightline-dev/sightline/processors/stats/decide"
	"github.com/sightline-dev/sightline/processors/window"
)

// newReport is `sightline report`: offline drift, bias, A/B and
// detection-quality reports over JSON lines, computed by the same code
// (processors/window) as the stream's window signals.
func newReport(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Offline reports over event files: drift, bias, ab, quality (the stream's statistics)",
	}
	cmd.AddCommand(newReportDrift(g), newReportBias(g), newReportAB(g), newReportQuality(g))
	return cmd
}

// reportScorer builds the stream's scorer from the config file's detector
// settings.
func reportScorer(g *globals) (window.ScoreFunc, error) {
	cfg, err := config.Load(g.configPath)
	if err != nil {
		return nil, err
	}
	return configScorer(cfg)
}

// configScorer is reportScorer for a loaded config.
func configScorer(cfg config.Config) (window.ScoreFunc, error) {
	dets, err := registry.Build(cfg.Detectors)
	if err != nil {
		return nil, err
	}
	return runner.New(dets, nil).Func(), nil
}

func loadFile(path, flag string, cfg window.Config, score window.ScoreFunc, opt window.LoadOptions, errw io.Writer) (*window.Dataset, error) {
	if path == "" {
		return nil, fmt.Errorf("--%s is required", flag)
	}
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("cannot open --%s: %w", flag, err)
		}
		defer f.Close()
		r = f
	}
	d, err := window.LoadJSONL(r, cfg, score, opt)
	if err != nil {
		return nil, fmt.Errorf("cannot read --%s %s: %w", flag, path, err)
	}
	if d.Malformed > 0 {
		fmt.Fprintf(errw, "report: %s: %d of %d lines malformed, skipped\n", path, d.Malformed, d.Lines)
	}
	return d, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// f formats a number for the tables: "-" when it is not finite or absent.
func f(v any, prec int) string {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "-"
		}
		if x != 0 && (math.Abs(x) < math.Pow(10, -float64(prec)) || math.Abs(x) >= 1e6) {
			return fmt.Sprintf("%.*g", max(prec-1, 2), x)
		}
		return fmt.Sprintf("%.*f", prec, x)
	case *float64:
		if x == nil {
			return "-"
		}
		return f(*x, prec)
	case int, uint64:
		return fmt.Sprint(x)
	}
	return "-"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func newReportDrift(g *globals) *cobra.Command {
	var ref, cur string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "drift --reference REF.jsonl --current CUR.jsonl",
		Short: "Per-feature drift of CUR against REF: PSI, JS, KS statistic and p-value, Wasserstein, chi-square, drifted yes/no",
		Long: "Reads two files of events in their JSON form (one per line), scores them as the stream does and compares\n" +
			"every numeric feature (lengths, tokens, latency, cost, detector scores), categorical feature (finish reason,\n" +
			"response model, prompt script, prompt topic) and the prompt text (hashed n-gram embedding, MMD). Any numeric\n" +
			"top-level field present in both files (e.g. {\"latency_ms\": 812}) is compared from its raw values.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			score, err := reportScorer(g)
			if err != nil {
				return err
			}
			cfg := window.DefaultConfig()
			opt := window.LoadOptions{Columns: true}
			rd, err := loadFile(ref, "reference", cfg, score, opt, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			cd, err := loadFile(cur, "current", cfg, score, opt, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			rows := window.DriftReport(rd, cd, cfg)
			if asJSON {
				return writeJSON(g.out, rows)
			}
			fmt.Fprintf(g.out, "drift of %s (%d events) against %s (%d events)\n", cur, cd.Events, ref, rd.Events)
			tw := tabwriter.NewWriter(g.out, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "feature\tsource\tn\tPSI\tJS\tKS\tKS p\tWasserstein\tchi2\tchi2 p\tdrifted\tthreshold\tnotes\t")
			drifted := 0
			for _, s := range rows {
				d := s.Details
				state := yesNo(s.Decision)
				if d["insufficient"] == true {
					state = "insufficient"
				}
				if s.Decision {
					drifted++
				}
				notes := ""
				if d["test"] == "mmd_permutation" {
					notes = "MMD²=" + f(d["mmd2"], 4) + " p=" + f(d["mmd_p"], 4) + " centroid cos=" + f(d["centroid_cosine"], 3)
				}
				fmt.Fprintf(tw, "%s\t%v\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.Name, d["source"], s.N,
					f(d["psi"], 3), f(d["js"], 3), f(d["ks"], 3), f(d["ks_p"], 4), f(d["wasserstein"], 3),
					f(d["chi2"], 1), f(d["chi2_p"], 4), state, threshold(s), notes)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "%d of %d features drifted\n", drifted, len(rows))
			return nil
		},
	}
	cmd.Flags().StringVar(&ref, "reference", "", "reference events, JSON lines (- for stdin)")
	cmd.Flags().StringVar(&cur, "current", "", "current events, JSON lines")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the signal rows as JSON")
	return cmd
}

// threshold describes the decision rule of a drift row.
func threshold(s window.Signal) string {
	alpha := f(s.Threshold, 5)
	switch s.Details["test"] {
	case "chi2":
		return fmt.Sprintf("chi2 p<%s or PSI>%v", alpha, s.Details["psi_threshold"])
	case "mmd_permutation":
		return fmt.Sprintf("MMD p<%s", alpha)
	}
	return fmt.Sprintf("KS p<%s or PSI>%v", alpha, s.Details["psi_threshold"])
}

func newReportBias(g *globals) *cobra.Command {
	var in, segment, outcome string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "bias --in EVENTS.jsonl --segment ATTR",
		Short: "Outcome disparity across the groups of a segment attribute: rates, difference, disparate-impact ratio, Holm-corrected significance",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if segment == "" {
				return fmt.Errorf("--segment is required (a segments key such as user.locale, or a top-level field)")
			}
			score, err := reportScorer(g)
			if err != nil {
				return err
			}
			cfg := window.DefaultConfig()
			cfg.MaxGroups = 1024 // offline: one attribute, keep every group
			d, err := loadFile(in, "in", cfg, score, window.LoadOptions{Segment: segment}, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			rows, err := window.BiasReport(d, segment, outcome, cfg)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(g.out, rows)
			}
			if len(rows) == 0 {
				fmt.Fprintf(g.out, "no events with segment %q in %s (%d events)\n", segment, in, d.Events)
				return nil
			}
			tw := tabwriter.NewWriter(g.out, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "outcome\tgroup\tn\trate\t95% CI\tdiff\tDI ratio\tp (Holm)\tfinding\t")
			type key struct{ name, group string }
			byGroup := map[key]map[string]window.Signal{}
			for _, s := range rows {
				k := key{s.Name, s.Group}
				if byGroup[k] == nil {
					byGroup[k] = map[string]window.Signal{}
				}
				byGroup[k][s.Metric] = s
			}
			for _, s := range rows {
				switch s.Metric {
				case "bias_rate":
					m := byGroup[key{s.Name, s.Group}]
					var finding string
					switch {
					case s.Details["insufficient"] == true:
						finding = "insufficient"
					case s.Details["reference"] == true:
						finding = "reference"
					default:
						finding = yesNo(m["bias_rate_diff"].Decision)
					}
					group := strings.TrimPrefix(s.Group, segment+"=")
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t[%s, %s]\t%s\t%s\t%s\t%s\t\n", s.Name, group, s.N, f(s.Value, 4),
						f(zeroTiny(s.Lo), 4), f(s.Hi, 4), diffOf(m, "bias_rate_diff"), diffOf(m, "bias_di_ratio"), f(m["bias_rate_diff"].PValue, 4), finding)
				case "bias":
					state := yesNo(s.Decision)
					if s.Details["insufficient"] == true {
						state = "insufficient (fewer than two groups of " + f(s.Details["min_group_size"], 0) + ")"
					}
					fmt.Fprintf(tw, "%s\t(all)\t%d\t\t\t\tmin %s\t\t%s\t\n", s.Name, s.N, f(s.Value, 3), state)
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "finding: Holm-adjusted p <= %v against the reference group (the largest); groups under %v events are insufficient\n",
				cfg.Bias.Alpha, cfg.Bias.MinGroupSize)
			return nil
		},
	}
	cmd.Flags().StringVar(&in, "in", "", "events, JSON lines (- for stdin)")
	cmd.Flags().StringVar(&segment, "segment", "", "segment attribute to group by (segments key, or a top-level field)")
	cmd.Flags().StringVar(&outcome, "outcome", "", "outcome: "+strings.Join(window.OutcomeNames(), ", ")+" (default: all with data)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the signal rows as JSON")
	return cmd
}

// zeroTiny shows a rounding residue of an interval bound (a Wilson lower
// bound of 1e-19 at zero positives) as 0.
func zeroTiny(x float64) float64 {
	if math.Abs(x) < 1e-12 {
		return 0
	}
	return x
}

func diffOf(m map[string]window.Signal, metric string) string {
	s, ok := m[metric]
	if !ok {
		return "-"
	}
	return f(s.Value, 4)
}

func newReportAB(g *globals) *cobra.Command {
	var in, control string
	var size time.Duration
	var asJSON, looks bool
	cmd := &cobra.Command{
		Use:   "ab --in EVENTS.jsonl",
		Short: "A/B comparison of variants (or prompt-template versions) against a control: sequential mSPRT across windows, fixed-horizon tests",
		Long: "Groups events by variant (or prompt_template id@version when an event has no variant) and by event-time\n" +
			"window (--window, as the stream's aggregate.window) and runs the aggregate stage's A/B experiment of each\n" +
			"group against the control: the mSPRT accumulated over the windows where both have events, from the first\n" +
			"one (or window.ab.start / window.ab.starts of the config file) on, with its always-valid p-value and\n" +
			"confidence sequence, which stay valid however often the results are looked at; that is the decision\n" +
			"default. Beside it, the fixed-horizon tests over the whole file (two-proportion z-test for rates, Welch's\n" +
			"t-test and Mann-Whitney U for latency), valid only if the file is the one pre-planned look.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(g.configPath)
			if err != nil {
				return err
			}
			score, err := configScorer(cfg)
			if err != nil {
				return err
			}
			if size < time.Second || size%time.Second != 0 {
				return fmt.Errorf("--window must be a whole number of seconds, at least 1s, got %v", size)
			}
			wcfg := cfg.Window
			d, err := loadFile(in, "in", wcfg, score, window.LoadOptions{Split: window.ABWindowSplit(size)}, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			res, err := window.ABExperimentReport(d, control, size, wcfg)
			if err != nil {
				return err
			}
			if asJSON {
				if !looks {
					res.Looks = nil
				}
				return writeJSON(g.out, res)
			}
			return printAB(g.out, res, wcfg, looks)
		},
	}
	cmd.Flags().StringVar(&in, "in", "", "events, JSON lines (- for stdin)")
	cmd.Flags().StringVar(&control, "control", "", `control group (default: "control" if present, else the largest group)`)
	cmd.Flags().DurationVar(&size, "window", time.Minute, "window size: the looks of the sequential test (the stream's aggregate.window)")
	cmd.Flags().BoolVar(&looks, "looks", false, "also print the sequential rows after every look")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func printAB(w io.Writer, res *window.ABExperimentResult, cfg window.Config, looks bool) error {
	fmt.Fprintf(w, "control %q (%d events); %d windows of %ds; decision default: %s (alpha %v)\n",
		res.Control, res.ControlEvents, res.Windows, res.WindowSeconds, cfg.AB.Decision, cfg.AB.Alpha)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "variant\tmetric\ttest\tn\tcontrol\ttreatment\tdiff\tinterval\tp\tsignificant\tlooks\tdecided at\t")
	line := func(s window.Signal) {
		ctlV, trtV := s.Details["control_rate"], s.Details["treatment_rate"]
		if ctlV == nil {
			ctlV, trtV = s.Details["control_mean"], s.Details["treatment_mean"]
		}
		test := strings.TrimPrefix(s.Metric, "ab_")
		if s.Details["default"] == true {
			test += "*"
		}
		ci := "-"
		if !math.IsNaN(s.Lo) {
			ci = "[" + f(s.Lo, 4) + ", " + f(s.Hi, 4) + "]"
		}
		nLooks, decided := "-", "-"
		if s.Details["sequential"] == true {
			nLooks = fmt.Sprint(s.Details["metric_looks"])
			if at, ok := s.Details["decided_at"].(int64); ok {
				decided = time.Unix(at, 0).UTC().Format(time.RFC3339)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.Group, s.Name, test, s.N,
			f(ctlV, 4), f(trtV, 4), f(s.Value, 4), ci, f(s.PValue, 4), yesNo(s.Decision), nLooks, decided)
	}
	for _, s := range res.Sequential {
		line(s)
	}
	for _, s := range res.Fixed {
		if s.Metric != "count" {
			line(s)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "* the decision default. msprt: sequential over the windows, p always valid, interval a %.0f%% confidence sequence;\n"+
		"diff, welch, mannwhitney: fixed-horizon over the whole file (mannwhitney diff is P(treatment > control))\n", 100*(1-cfg.AB.Alpha))
	if !looks {
		return nil
	}
	fmt.Fprintln(w, "\nlooks:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "window\tvariant\tmetric\tn\tdiff\tinterval\tp\tsignificant\t")
	for _, l := range res.Looks {
		for _, s := range l.Signals {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t[%s, %s]\t%s\t%s\t\n", time.Unix(l.Window, 0).UTC().Format(time.RFC3339), l.Variant, s.Name,
				s.N, f(s.Value, 4), f(s.Lo, 4), f(s.Hi, 4), f(s.PValue, 4), yesNo(s.Decision))
		}
	}
	return tw.Flush()
}

func newReportQuality(g *globals) *cobra.Command {
	var seed int64
	var windows int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "quality",
		Short: "Detection quality of the drift and bias decisions on synthetic streams with known truth",
		Long: fmt.Sprintf("Runs decide.DetectionQuality: per window, %d events per side; drift: a %.1f-SD mean shift vs a stationary\n"+
			"stream; bias: a %.0f-point outcome disparity (%.0f%% vs %.0f%%) vs parity between two groups. Same seed, same numbers.",
			decide.QualityEventsPerWindow, decide.QualityMeanShift, 100*decide.QualityDisparity,
			100*decide.QualityBaseRate, 100*(decide.QualityBaseRate+decide.QualityDisparity)),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if windows < 1 {
				return fmt.Errorf("--windows must be at least 1")
			}
			rep := decide.DetectionQuality(seed, windows)
			if asJSON {
				return writeJSON(g.out, rep)
			}
			fmt.Fprintf(g.out, "detection quality: seed %d, %d windows per scenario, %d events per window and side\n", rep.Seed, rep.Windows, rep.EventsPerWindow)
			tw := tabwriter.NewWriter(g.out, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "scenario\tflagged\ttarget\tmet\t")
			line := func(name string, v, target float64, atLeast bool) {
				op, met := "<=", v <= target
				if atLeast {
					op, met = ">=", v >= target
				}
				fmt.Fprintf(tw, "%s\t%.1f%%\t%s %.0f%%\t%s\t\n", name, 100*v, op, 100*target, yesNo(met))
			}
			line(fmt.Sprintf("drift: %.1f-SD mean shift", decide.QualityMeanShift), rep.DriftDetected, decide.TargetDriftDetection, true)
			line("drift: stationary", rep.DriftFalse, decide.TargetDriftFalse, false)
			line(fmt.Sprintf("bias: %.0f-point disparity", 100*decide.QualityDisparity), rep.BiasDetected, decide.TargetBiasDetection, true)
			line("bias: parity", rep.BiasFalse, decide.TargetBiasFalse, false)
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "all targets met: %s\n", yesNo(rep.Pass))
			return nil
		},
	}
	cmd.Flags().Int64Var(&seed, "seed", 1, "random seed")
	cmd.Flags().IntVar(&windows, "windows", 1000, "windows per scenario")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
