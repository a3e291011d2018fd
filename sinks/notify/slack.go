package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Slack posts to a Slack incoming webhook: a plain-text fallback in "text"
// and Block Kit blocks (header, fields, the events query, context).
type Slack struct {
	URL     string
	Headers map[string]string
}

// SlackMessage is the incoming-webhook payload.
func SlackMessage(n Notification) map[string]any {
	emoji := ":rotating_light:"
	if n.State == StateResolved {
		emoji = ":white_check_mark:"
	}
	title := fmt.Sprintf("%s %s %s", emoji, strings.ToUpper(n.State), n.Rule)
	scope, value := n.Scope.String(), FormatValue(n.Value)+" ("+n.Condition+")"
	if n.Version >= Version2 {
		title += fmt.Sprintf(" · %d of %d series firing", n.MembersFiring, n.MembersTotal)
		scope, value = n.GroupLabel(), "worst "+value
	}
	field := func(k, v string) map[string]any { return map[string]any{"type": "mrkdwn", "text": "*" + k + "*\n" + v} }
	fields := []any{
		field("Signal", "`"+n.Signal.String()+"`"),
		field("Value", value),
		field("Scope", scope),
		field("Window", n.Window.Start.UTC().Format("2006-01-02 15:04:05")+fmt.Sprintf(" UTC, %ds", n.Window.Seconds)),
		field("Severity", n.Severity),
		field("Samples", fmt.Sprint(n.N)),
	}
	blocks := []any{
		map[string]any{"type": "header", "text": map[string]any{"type": "plain_text", "text": trunc(title, 150)}},
		map[string]any{"type": "section", "fields": fields},
	}
	if len(n.Members) > 0 {
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn",
			"text": trunc(slackMembers(n), 2900)}})
	}
	if n.Links.EventsSQL != "" {
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn",
			"text": "Affected events:\n```" + trunc(n.Links.EventsSQL, 2900) + "```"}})
	}
	blocks = append(blocks, map[string]any{"type": "context", "elements": []any{
		map[string]any{"type": "mrkdwn", "text": "alert `" + n.AlertID + "` · fingerprint `" + n.Fingerprint + "`"}}})
	return map[string]any{"text": n.Summary(), "blocks": blocks}
}

// slackListed bounds the members a Slack message lists (its blocks are
// read by people; the webhook payload has them all).
const slackListed = 10

func slackMembers(n Notification) string {
	var b strings.Builder
	b.WriteString("*Series*")
	for i, m := range n.Members {
		if i == slackListed {
			break
		}
		fmt.Fprintf(&b, "\n• `%s` %s (n %d) %s", n.MemberLabel(m), FormatValue(m.Value), m.N, m.State)
	}
	if more := n.MembersTotal - min(len(n.Members), slackListed); more > 0 {
		fmt.Fprintf(&b, "\n… and %d more", more)
	}
	return b.String()
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// Notify sends one attempt.
func (s *Slack) Notify(ctx context.Context, n Notification) (Outcome, error) {
	body, err := json.Marshal(SlackMessage(n))
	if err != nil {
		return Outcome{}, Permanent(fmt.Errorf("cannot encode slack message: %w", err))
	}
	return request{method: http.MethodPost, url: s.URL, body: body, headers: s.Headers, secrets: slackSecret(s.URL)}.do(ctx)
}

// slackSecret is the last path segment of a Slack webhook URL, its secret
// (/services/T…/B…/<secret>): masked even when the URL's host is not
// hooks.slack.com (a proxy, a Slack-compatible chat server).
func slackSecret(u string) []string {
	p, _, _ := strings.Cut(u, "?")
	p, _, _ = strings.Cut(p, "#")
	p = strings.TrimSuffix(p, "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 && !strings.HasSuffix(p[:i], "/") {
		return []string{p[i+1:]}
	}
	return nil
}
