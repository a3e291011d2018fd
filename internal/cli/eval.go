package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/sightline-dev/sightline/internal/config"
	"github.com/sightline-dev/sightline/processors/detectors/injection"
	"github.com/sightline-dev/sightline/processors/detectors/registry"
	"github.com/sightline-dev/sightline/processors/detectors/runner"
	"github.com/sightline-dev/sightline/processors/detectors/toxicity"
)

func newEval(g *globals) *cobra.Command {
	var in, out string
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Score events offline (JSON lines in, the same events with a \"scores\" object out)",
		Long: "Reads events in their JSON form, one per line (prompt, completion, context, reference, ...), runs every\n" +
			"detector exactly as the score stage does, and writes each event back with a \"scores\" object.\n" +
			"A malformed line becomes {\"line\": N, \"error\": \"...\"} and the run goes on. A summary goes to stderr.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(g.configPath)
			if err != nil {
				return err
			}
			dets, err := registry.Build(cfg.Detectors)
			if err != nil {
				return err
			}
			var r io.Reader = os.Stdin
			if in != "-" {
				f, err := os.Open(in)
				if err != nil {
					return fmt.Errorf("cannot open --in: %w", err)
				}
				defer f.Close()
				r = f
			}
			var w io.Writer = g.out
			if out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return fmt.Errorf("cannot create --out: %w", err)
				}
				defer f.Close()
				w = f
			}
			rep, err := runner.EvalJSONL(r, w, runner.New(dets, nil))
			errw := cmd.ErrOrStderr()
			fmt.Fprintf(errw, "eval: %d lines, %d events scored, %d malformed lines\n", rep.Lines, rep.Scored, rep.Errors)
			// One line per decision the detectors declare (the rates the
			// windows count), with the threshold they used.
			for _, rc := range rep.Rates {
				pct := 0.0
				if rc.Trials > 0 {
					pct = 100 * float64(rc.Positives) / float64(rc.Trials)
				}
				rule := rc.Output
				if rc.Threshold > 0 {
					rule = fmt.Sprintf("%s >= %.2f, mean %.3f", rc.Output, rc.Threshold, rc.Mean)
				}
				fmt.Fprintf(errw, "  %s: %d of %d events (%.1f%%; %s)\n", rc.Rate, rc.Positives, rc.Trials, pct, rule)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&in, "in", "-", "input JSON lines (- for stdin)")
	cmd.Flags().StringVar(&out, "out", "-", "output JSON lines (- for stdout)")
	return cmd
}

func newTrain(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a detector model from labeled JSON lines (reproducible: same data, same bytes)",
	}
	for _, m := range []struct {
		name, help string
		train      func(data, out string, logf func(string, ...any)) error
	}{
		{"toxicity", "train the toxicity classifier (rows: {\"text\", \"label\": \"toxic\"|\"non_toxic\"})", toxicity.TrainFile},
		{"injection", "train the prompt-injection classifier (rows: {\"text\", \"label\": \"injection\"|...})", injection.TrainFile},
	} {
		var data, out string
		sub := &cobra.Command{
			Use:   m.name,
			Short: m.help,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if data == "" || out == "" {
					return fmt.Errorf("train %s needs --data FILE and --out FILE", m.name)
				}
				logf := func(format string, args ...any) { fmt.Fprintf(cmd.ErrOrStderr(), format+"\n", args...) }
				return m.train(data, out, logf)
			},
		}
		sub.Flags().StringVar(&data, "data", "", "labeled JSON lines")
		sub.Flags().StringVar(&out, "out", "", "where to write the model")
		cmd.AddCommand(sub)
	}
	return cmd
}
