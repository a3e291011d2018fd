package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Webhook POSTs the Notification as JSON (its MarshalJSON form), signed
// when Secret is set.
type Webhook struct {
	URL     string
	Secret  []byte
	Headers map[string]string
}

// Notify sends one attempt.
func (w *Webhook) Notify(ctx context.Context, n Notification) (Outcome, error) {
	body, err := json.Marshal(n)
	if err != nil {
		return Outcome{}, Permanent(fmt.Errorf("cannot encode webhook payload: %w", err))
	}
	return request{method: http.MethodPost, url: w.URL, body: body, headers: w.Headers, secret: w.Secret}.do(ctx)
}
