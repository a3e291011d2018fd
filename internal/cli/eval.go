package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/sightline-dev/sightline/internal/config"
	"github.com/sightline-dev/sightline/processors/injection"
	"github.com/sightline-dev/sightline/processors/registry"
	"github.com/sightline-dev/sightline/processors/scoring"
	"github.com/sightline-dev/sightline/processors/toxicity"
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
			tox, inj := toxicity.DefaultThreshold, injection.DefaultThreshold
			if s, ok := cfg.Detectors["toxicity"]; ok && s.Threshold > 0 {
				tox = s.Threshold
			}
			if s, ok := cfg.Detectors["prompt_injection"]; ok && s.Threshold > 0 {
				inj = s.Threshold
			}
			rep, err := scoring.EvalJSONL(r, w, scoring.New(dets, nil), tox, inj)
			errw := cmd.ErrOrStderr()
			fmt.Fprintf(errw, "eval: %d lines, %d events scored, %d malformed lines\n", rep.Lines, rep.Scored, rep.Errors)
			if rep.Scored > 0 {
				pct := func(n, d int) float64 {
					if d == 0 {
						return 0
					}
					return 100 * float64(n) / float64(d)
				}
				fmt.Fprintf(errw, "  toxic completions (>= %.2f): %d (%.1f%%), mean completion toxicity %.3f\n", tox, rep.ToxicCompletions, pct(rep.ToxicCompletions, rep.Scored), rep.MeanCompletionToxicity)
				fmt.Fprintf(errw, "  hallucination (>= 0.5) on checkable events: %d of %d (%.1f%%), mean risk %.3f\n", rep.Hallucinated, rep.Checkable, pct(rep.Hallucinated, rep.Checkable), rep.MeanHallucination)
				fmt.Fprintf(errw, "  events with PII: %d (%.1f%%); prompt injections (>= %.2f): %d (%.1f%%); refusals: %d (%.1f%%)\n",
					rep.WithPII, pct(rep.WithPII, rep.Scored), inj, rep.Injections, pct(rep.Injections, rep.Scored), rep.Refusals, pct(rep.Refusals, rep.Scored))
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
