package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Alertmanager posts to Prometheus Alertmanager's v2 API
// (POST <URL>/api/v2/alerts). Labels identify the alert to Alertmanager
// (alertname = rule, severity, the scope, the signal and the rule's
// labels); annotations carry the value, threshold, summary and the events
// query. A resolved notification sends endsAt. Alertmanager resolves a
// firing alert by itself after its resolve_timeout (default 5m) unless it
// is sent again, so rules routed here should set renotify below that.
type Alertmanager struct {
	URL          string
	GeneratorURL string
	Headers      map[string]string
}

// AlertmanagerAlert is one element of the v2 postable alerts list.
type AlertmanagerAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// AlertmanagerPayload converts a notification: a series (version 1) to one
// alert, an incident (version 2) to one alert per listed member, since
// Alertmanager groups alerts itself and resolves each on its own.
func AlertmanagerPayload(n Notification, generatorURL string) []AlertmanagerAlert {
	if n.Version < Version2 {
		return []AlertmanagerAlert{alertmanagerAlert(n, generatorURL)}
	}
	out := make([]AlertmanagerAlert, 0, len(n.Members))
	for _, m := range n.Members {
		s := n
		s.Version, s.Members, s.GroupBy, s.MembersTotal, s.MembersFiring = Version1, nil, nil, 0, 0
		s.AlertID, s.Fingerprint, s.State, s.Scope, s.Signal = m.AlertID, m.Fingerprint, m.State, m.Scope, m.Signal
		s.Value, s.Threshold, s.N, s.Window, s.StartsAt, s.EndsAt = m.Value, m.Threshold, m.N, m.Window, m.StartsAt, m.EndsAt
		if s.State == StateResolved && s.EndsAt.IsZero() {
			s.EndsAt = n.EndsAt
		}
		s.Text, s.Links.EventsSQL = "", EventsSQL(m.Scope, m.Window, DefaultEventsLimit)
		s.Text = s.Summary()
		a := alertmanagerAlert(s, generatorURL)
		a.Annotations["incident_id"] = n.AlertID
		out = append(out, a)
	}
	return out
}

func alertmanagerAlert(n Notification, generatorURL string) AlertmanagerAlert {
	labels := map[string]string{}
	for k, v := range n.Labels {
		labels[k] = v
	}
	set := func(k, v string) {
		if v != "" {
			labels[k] = v
		}
	}
	set("alertname", n.Rule)
	set("severity", n.Severity)
	set("tenant", n.Scope.Tenant)
	set("app", n.Scope.App)
	set("model", n.Scope.Model)
	set("variant", n.Scope.Variant)
	set("group", n.Scope.Group)
	set("signal", n.Signal.String())
	a := AlertmanagerAlert{
		Labels: labels,
		Annotations: map[string]string{
			"summary":     n.Summary(),
			"value":       FormatValue(n.Value),
			"condition":   n.Condition,
			"alert_id":    n.AlertID,
			"fingerprint": n.Fingerprint,
			"window":      n.Window.Start.UTC().Format(time.RFC3339) + fmt.Sprintf(" (%ds)", n.Window.Seconds),
			"events_sql":  n.Links.EventsSQL,
		},
		StartsAt:     n.StartsAt.UTC(),
		GeneratorURL: generatorURL,
	}
	if n.State == StateResolved {
		a.EndsAt = n.EndsAt.UTC()
		if a.EndsAt.IsZero() {
			a.EndsAt = time.Now().UTC()
		}
	}
	return a
}

// Notify sends one attempt.
func (a *Alertmanager) Notify(ctx context.Context, n Notification) (Outcome, error) {
	body, err := json.Marshal(AlertmanagerPayload(n, a.GeneratorURL))
	if err != nil {
		return Outcome{}, Permanent(fmt.Errorf("cannot encode alertmanager payload: %w", err))
	}
	url := strings.TrimSuffix(a.URL, "/") + "/api/v2/alerts"
	return request{method: http.MethodPost, url: url, body: body, headers: a.Headers}.do(ctx)
}
