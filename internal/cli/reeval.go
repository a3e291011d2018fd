package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/sightline-dev/sightline/processors/reeval"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// Environment variables that carry the judge's API key, in order of
// preference.
const (
	reevalKeyEnv       = "SIGHTLINE_JUDGE_API_KEY"
	reevalOpenAIKeyEnv = "OPENAI_API_KEY"
)

// newReeval is `sightline reeval`: the GPU re-evaluation job (an LLM judge
// over the events of a scope and range, or of an alert).
func newReeval(g *globals) *cobra.Command {
	var rc reeval.Config
	var from, to string
	cmd := &cobra.Command{
		Use:   "reeval",
		Short: "Re-evaluate stored events with an LLM judge (OpenAI-compatible endpoint) and measure the online detectors against it",
		Long: "Reads the events of a scope (--tenant/--app/--model/--variant; empty matches all) and range (--from/--to,\n" +
			"RFC 3339), or of an alert or incident (--alert-id: its keys and windows from llm_alerts), from llm_events; asks the judge\n" +
			"for a JSON verdict on each (toxicity, hallucination given the context or reference, bias); writes\n" +
			"llm_evaluations and a summary row in llm_eval_runs (judge rates; precision, recall and F1 of the online\n" +
			"detectors against the judge), and prints the summary.\n\n" +
			"The API key comes from " + reevalKeyEnv + " (or " + reevalOpenAIKeyEnv + "). Rerunning the same job (--job-id, by default\n" +
			"derived from the scope and range or the alert id, and the judge model) judges only the events without a\n" +
			"valid verdict yet. Migrations are applied first.",
		Example: "  sightline reeval --clickhouse-addr ch:9000 --judge-url http://gpu-host:8000/v1 --judge-model Qwen/Qwen2.5-7B-Instruct \\\n" +
			"    --tenant acme --app support-bot --from 2026-05-01T10:00:00Z --to 2026-05-01T11:00:00Z --concurrency 16\n" +
			"  sightline reeval --alert-id 4f1c... --judge-url http://gpu-host:8000/v1 --judge-model judge",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load(cmd)
			if err != nil {
				return err
			}
			if rc.From, err = reevalTime("--from", from); err != nil {
				return err
			}
			if rc.To, err = reevalTime("--to", to); err != nil {
				return err
			}
			rc.APIKey = os.Getenv(reevalKeyEnv)
			if rc.APIKey == "" {
				rc.APIKey = os.Getenv(reevalOpenAIKeyEnv)
			}
			if err := rc.Validate(); err != nil {
				return err
			}
			conn, err := openClickHouse(cmd, cfg)
			if err != nil {
				return err
			}
			defer conn.Close()
			if _, err := chsink.Migrate(cmd.Context(), conn); err != nil {
				return err
			}
			_, err = reeval.Run(cmd.Context(), rc, conn, g.out)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&rc.JobID, "job-id", "", "job id (default: derived from the scope and range or the alert id, and the judge model)")
	f.StringVar(&rc.Scope.Tenant, "tenant", "", "tenant of the events (empty: all)")
	f.StringVar(&rc.Scope.App, "app", "", "app of the events (empty: all)")
	f.StringVar(&rc.Scope.Model, "model", "", "model of the events (empty: all)")
	f.StringVar(&rc.Scope.Variant, "variant", "", "variant of the events (empty: all)")
	f.StringVar(&from, "from", "", "start of the range, inclusive (RFC 3339)")
	f.StringVar(&to, "to", "", "end of the range, exclusive (RFC 3339)")
	f.StringVar(&rc.AlertID, "alert-id", "", "take scope and range from this alert or incident (the id a notification carries) in llm_alerts instead")
	f.StringVar(&rc.JudgeURL, "judge-url", "", "OpenAI-compatible API base of the judge, e.g. http://gpu-host:8000/v1 (vLLM)")
	f.StringVar(&rc.JudgeModel, "judge-model", "", "judge model name as the endpoint knows it")
	f.IntVar(&rc.Concurrency, "concurrency", 4, "judge requests in flight at most")
	f.Float64Var(&rc.Rate, "rate", 0, "judge requests started per second at most, retries included (0: no limit)")
	f.DurationVar(&rc.Timeout, "timeout", 60*time.Second, "time limit of each judge request")
	f.IntVar(&rc.Retries, "retries", 3, "retries of a failed judge request (timeout, 429, 5xx), with exponential backoff; -1 for none")
	f.IntVar(&rc.MaxEvents, "max-events", 0, "judge at most this many events of the range, oldest first (0: all)")
	f.IntVar(&rc.MaxTokens, "max-tokens", 512, "max_tokens of the judge's answer")
	return cmd
}

func reevalTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: want an RFC 3339 time such as 2026-05-01T10:00:00Z: %w", flag, err)
	}
	return t, nil
}
