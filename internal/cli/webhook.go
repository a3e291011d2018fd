package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/sightline-dev/sightline/sinks/notify"
)

// newWebhook: a receiver for trying alert webhooks and job triggers
// locally. It verifies signatures and prints each delivery as a JSON line.
func newWebhook(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "webhook", Short: "Tools for alert webhooks"}
	var addr, secretEnv string
	listen := &cobra.Command{
		Use:   "listen",
		Short: "Receive webhook and job deliveries, verify their signatures, and print each as a JSON line",
		RunE: func(cmd *cobra.Command, _ []string) error {
			secret := []byte(os.Getenv(secretEnv))
			mux := http.NewServeMux()
			// Handlers run concurrently: mu guards seen and the output.
			var mu sync.Mutex
			seen := map[string]bool{}
			mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
				body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
				if err != nil {
					http.Error(w, "cannot read body", http.StatusBadRequest)
					return
				}
				rec := map[string]any{"path": r.URL.Path, "received_at": time.Now().UTC().Format(time.RFC3339Nano), "bytes": len(body)}
				mu.Lock()
				defer mu.Unlock()
				if len(secret) > 0 && r.Header.Get("X-Sightline-Signature") != "" {
					if err := notify.VerifySignature(secret, r.Header, body, 5*time.Minute); err != nil {
						rec["signature"] = "invalid: " + err.Error()
						json.NewEncoder(g.out).Encode(rec)
						http.Error(w, "bad signature", http.StatusUnauthorized)
						return
					}
					rec["signature"] = "valid"
				}
				if key := r.Header.Get("Idempotency-Key"); key != "" {
					rec["idempotency_key"] = key
					if seen[key] {
						rec["duplicate"] = true
						json.NewEncoder(g.out).Encode(rec)
						w.WriteHeader(http.StatusConflict)
						return
					}
					seen[key] = true
				}
				var doc any
				if json.Unmarshal(body, &doc) == nil {
					rec["body"] = doc
				}
				json.NewEncoder(g.out).Encode(rec)
				w.WriteHeader(http.StatusAccepted)
			})
			srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
			fmt.Fprintf(cmd.ErrOrStderr(), "listening on http://%s (secret from $%s: %v)\n", addr, secretEnv, len(secret) > 0)
			go func() { <-cmd.Context().Done(); srv.Close() }()
			if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
				return err
			}
			return nil
		},
	}
	listen.Flags().StringVar(&addr, "addr", "127.0.0.1:9099", "listen address")
	listen.Flags().StringVar(&secretEnv, "secret-env", "SIGHTLINE_WEBHOOK_SECRET", "environment variable holding the HMAC secret")
	cmd.AddCommand(listen)
	return cmd
}
