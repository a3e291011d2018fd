package redact

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestURL(t *testing.T) {
	cases := []struct{ in, want string }{
		// Query values go, names stay.
		{"https://ci.example.com/dispatch?token=t0k3n-abc&ref=main", "https://ci.example.com/dispatch?token=***&ref=***"},
		{"https://h/x?access_token=ya29.a0AfH6SMB&sig=Zx9%2Fq%3D&sv=2023-01-03", "https://h/x?access_token=***&sig=***&sv=***"},
		{"https://h/x?empty=&flag", "https://h/x?empty=&flag"},
		{"https://h/x?a=b=c", "https://h/x?a=***"},
		{"https://h/x?9f86d081884c7d659a2feaa0c55ad015", "https://h/x?***"},
		// Google Chat: key and token in the query.
		{"https://chat.googleapis.com/v1/spaces/AAAA1234/messages?key=AIzaSyDdI0hCZtE6vySjMm&token=a1b2c3", "https://chat.googleapis.com/v1/spaces/AAAA1234/messages?key=***&token=***"},
		// Power Automate / Logic Apps: sig in the query.
		{"https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers&sig=AbC123", "https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=***&sp=***&sig=***"},
		// User info, whole.
		{"https://alice:s3cr3t@example.com/x", "https://***@example.com/x"},
		{"https://ghp_abcdefghijklmnop@github.com/o/r", "https://***@github.com/o/r"},
		{"https://a@b:c@host:8443/", "https://***@host:8443/"},
		{"http://user:pass@[::1]:9093/api", "http://***@[::1]:9093/api"},
		// A password whose "@" is missing lands in the port.
		{"https://alice:s3cr3t", "https://alice:***"},
		// Fragments.
		{"https://app.example.com/cb#access_token=abc&state=1", "https://app.example.com/cb#***"},
		{"https://h/x#", "https://h/x#"},
		// Slack.
		{"https://hooks.slack.com/services/T0001/B0001/XXXXXXXXXXXXXXXXXXXXXXXX", "https://hooks.slack.com/services/T0001/B0001/***"},
		{"https://hooks.slack.com/workflows/T0001/A0001/123456789/abcdefABCDEF", "https://hooks.slack.com/workflows/T0001/A0001/123456789/***"},
		{"https://hooks.slack.com/triggers/T0001/123456789/abcdefABCDEF", "https://hooks.slack.com/triggers/T0001/123456789/***"},
		{"https://HOOKS.SLACK.COM:443/services/T1/B1/secretsecret", "https://HOOKS.SLACK.COM:443/services/T1/B1/***"},
		// Discord.
		{"https://discord.com/api/webhooks/112233445566/AbCdEf_gh-IJ", "https://discord.com/api/webhooks/112233445566/***"},
		{"https://discordapp.com/api/v10/webhooks/1/tok/slack", "https://discordapp.com/api/v10/webhooks/1/***/slack"},
		// Microsoft Teams.
		{"https://acme.webhook.office.com/webhookb2/1a2b@3c4d/IncomingWebhook/0123456789abcdef/5e6f/V2xyz",
			"https://acme.webhook.office.com/webhookb2/1a2b@3c4d/IncomingWebhook/***/***/***"},
		{"https://outlook.office.com/webhook/g@t/IncomingWebhook/sec/own", "https://outlook.office.com/webhook/g@t/IncomingWebhook/***/***"},
		// Telegram.
		{"https://api.telegram.org/bot123456:ABC-DEF1234ghIkl/sendMessage", "https://api.telegram.org/bot***/sendMessage"},
		// Generic tokens in the path.
		{"https://events.pagerduty.com/integration/9f86d081884c7d659a2feaa0c55ad015/enqueue", "https://events.pagerduty.com/integration/***/enqueue"},
		{"https://chat.example.com/hooks/x7k2m9q4w1e8r5t3y6u0i2o4pa", "https://chat.example.com/hooks/***"},
		// Ordinary words and ids stay.
		{"https://airflow.internal:8080/api/v1/dags/retrain_toxicity_model_v2/dagRuns", "https://airflow.internal:8080/api/v1/dags/retrain_toxicity_model_v2/dagRuns"},
		{"https://k8s/apis/batch/v1/namespaces/ml-jobs/jobs", "https://k8s/apis/batch/v1/namespaces/ml-jobs/jobs"},
		{"https://h/runs/550e8400-e29b-41d4-a716-446655440000", "https://h/runs/550e8400-e29b-41d4-a716-446655440000"},
		{"https://h/objects/507f1f77bcf86cd799439011", "https://h/objects/507f1f77bcf86cd799439011"},
		{"https://h/users/1234567890123456789012345", "https://h/users/1234567890123456789012345"},
		{"https://h/docs/supercalifragilisticexpialidocious", "https://h/docs/supercalifragilisticexpialidocious"},
		{"https://api.github.com/repos/acme/sightline-retrain-pipeline/dispatches", "https://api.github.com/repos/acme/sightline-retrain-pipeline/dispatches"},
		{"http://alertmanager:9093/api/v2/alerts", "http://alertmanager:9093/api/v2/alerts"},
		// Without a scheme, and odd input.
		{"hooks.slack.com/services/T1/B1/secretsecret", "hooks.slack.com/services/T1/B1/***"},
		{"//user:pw@h/x", "//***@h/x"},
		{"", ""},
		{"not a url", "not a url"},
		{"${SLACK_WEBHOOK_URL}", "${SLACK_WEBHOOK_URL}"},
	}
	for _, c := range cases {
		if got := URL(c.in); got != c.want {
			t.Errorf("URL(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
		if again := URL(URL(c.in)); again != URL(c.in) {
			t.Errorf("URL is not idempotent on %q: %q then %q", c.in, URL(c.in), again)
		}
	}
}

func TestString(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"url.Error", `Post "https://h.example.com/hook?token=abc123": dial tcp 127.0.0.1:1: connect: connection refused`,
			`Post "https://h.example.com/hook?token=***": dial tcp 127.0.0.1:1: connect: connection refused`},
		{"several URLs", "from https://a/x?k=1 to http://u:p@b/y.", "from https://a/x?k=*** to http://***@b/y."},
		{"trailing punctuation", "see (https://hooks.slack.com/services/T1/B1/secretsecret).", "see (https://hooks.slack.com/services/T1/B1/***)."},
		{"JSON-escaped slashes", `{"url":"https:\/\/h\/x?token=abc"}`, `{"url":"https:\/\/h\/x?token=***"}`},
		{"quoted by %q", `"https://h/x?token=ab\"cd"`, `"https://h/x?token=***"`},
		{"a host is not a pair", "https://token.example.com:443/v1", "https://token.example.com:443/v1"},
		{"header lines", "Authorization: Bearer abc.def\r\nX-Api-Key: k-123456\r\nCookie: sid=1; other=2\r\nX-Sightline-Signature: v1=ab12\r\nContent-Type: application/json",
			"Authorization: Bearer ***\r\nX-Api-Key: ***\r\nCookie: ***\r\nX-Sightline-Signature: ***\r\nContent-Type: application/json"},
		{"JSON headers", `{"headers":{"Authorization":["Bearer tok-123"],"X-Auth-Token":"zzz","Accept":["*/*"]}}`,
			`{"headers":{"Authorization":["Bearer ***"],"X-Auth-Token":"***","Accept":["*/*"]}}`},
		{"Go header map", "map[Authorization:[Basic dXNlcjpwYXNz] Cookie:[a=b; c=d] User-Agent:[sightline-alerts/1]]",
			"map[Authorization:[Basic ***] Cookie:[***] User-Agent:[sightline-alerts/1]]"},
		{"escaped JSON", `{\"password\":\"hunter2\"}`, `{\"password\":\"***\"}`},
		{"form body", "grant_type=client_credentials&client_secret=abc&client_id=x", "grant_type=client_credentials&client_secret=***&client_id=x"},
		{"value names a header", "missing header: X-Api-Key: abc", "missing header: X-Api-Key: ***"},
		{"bare bearer", "sent Bearer eyJhbGciOiJIUzI1NiJ9.e30.x to it", "sent Bearer *** to it"},
		{"prose stays", "401 Unauthorized: invalid token; Basic authentication required", "401 Unauthorized: invalid token; Basic authentication required"},
		{"token counts stay", `{"error":"max_tokens: 8192 > 4096","usage":{"input_tokens":12}}`, `{"error":"max_tokens: 8192 > 4096","usage":{"input_tokens":12}}`},
		{"signal is not sig", "signal: toxicity/rate, sig=abc", "signal: toxicity/rate, sig=***"},
		{"nothing to do", "receiver answered 500 Internal Server Error", "receiver answered 500 Internal Server Error"},
		{"empty", "", ""},
	}
	for _, c := range cases {
		got := String(c.in)
		if got != c.want {
			t.Errorf("%s: String(%q)\n got %q\nwant %q", c.name, c.in, got, c.want)
		}
		if again := String(got); again != got {
			t.Errorf("%s: not idempotent: %q then %q", c.name, got, again)
		}
	}
}

func TestSensitiveHeader(t *testing.T) {
	for name, want := range map[string]bool{
		"Authorization": true, "Proxy-Authorization": true, "Cookie": true, "Set-Cookie": true, "X-Api-Key": true,
		"X-Auth-Token": true, "X-Hub-Signature-256": true, "X-Sightline-Signature": true, "X-Client-Secret": true,
		"X-Password": true, "Private-Token": true, "Apikey": true,
		"Content-Type": false, "User-Agent": false, "X-Sightline-Timestamp": false, "Accept": false, "X-Team": false,
	} {
		if got := SensitiveHeader(name); got != want {
			t.Errorf("SensitiveHeader(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestHeaders(t *testing.T) {
	h := http.Header{
		"Authorization":         {"Bearer tok-123"},
		"X-Api-Key":             {"k1", "k2"},
		"Cookie":                {"a=b; c=d"},
		"X-Sightline-Signature": {"v1=abc"},
		"Referer":               {"https://h/x?token=abc"},
		"Content-Type":          {"application/json"},
	}
	got := Headers(h)
	want := http.Header{
		"Authorization":         {"Bearer ***"},
		"X-Api-Key":             {"***", "***"},
		"Cookie":                {"***"},
		"X-Sightline-Signature": {"***"},
		"Referer":               {"https://h/x?token=***"},
		"Content-Type":          {"application/json"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Headers:\n got %v\nwant %v", got, want)
	}
	if h.Get("Authorization") != "Bearer tok-123" {
		t.Error("Headers changed its argument")
	}
}

func TestSecrets(t *testing.T) {
	raw := "https://bob:pa55word@hooks.example.com/services/T1/B1/XXXXXXXXXXXXXXXXXXXXXXXX?token=abc%2Fdef123"
	s := NewSecrets(append(URLSecrets(raw), "Bearer tok-987654", "hmac-signing-secret", "short")...)
	for _, c := range []struct{ in, want string }{
		// Echoed outside a URL and without a name that says secret.
		{`<td>hmac-signing-secret</td>`, `<td>***</td>`},
		{"you sent tok-987654 as a credential", "you sent *** as a credential"},
		{"the token abc/def123 is revoked", "the token *** is revoked"},
		{"login bob:pa55word failed", "login *** failed"},
		{"basic Ym9iOnBhNTV3b3Jk", "basic ***"},
		{"query token=abc%2Fdef123", "query token=***"},
		// Shorter than MinSecretLen: left to the patterns.
		{"a short answer", "a short answer"},
		// And the patterns still apply.
		{`Post "https://h/x?k=1": EOF`, `Post "https://h/x?k=***": EOF`},
	} {
		if got := s.String(c.in); got != c.want {
			t.Errorf("Secrets.String(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
	var none *Secrets
	if got := none.String("token=abc"); got != "token=***" {
		t.Errorf("nil Secrets: %q", got)
	}
	if NewSecrets("", "abc") != nil {
		t.Error("no usable secrets: want nil")
	}
}

// TestErrorFromHTTPClient: what net/http really returns for a refused
// connection and a timeout is redacted, and stays classifiable.
func TestErrorFromHTTPClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	const secret = "Zq7tokenvalue0123456789"
	_, err = http.Post("http://u:"+secret+"@"+addr+"/hook?token="+secret, "application/json", nil)
	if err == nil {
		t.Fatal("want a connection error")
	}
	red := Error(err)
	if strings.Contains(red.Error(), secret) || !strings.Contains(red.Error(), addr) {
		t.Errorf("refused: %q", red)
	}
	var ue *url.Error
	if !errors.As(red, &ue) {
		t.Error("the *url.Error is not reachable with errors.As")
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	time.Sleep(2 * time.Millisecond)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/x?sig="+secret, nil)
	_, err = http.DefaultClient.Do(req)
	red = Error(err)
	if strings.Contains(red.Error(), secret) || !errors.Is(red, context.DeadlineExceeded) {
		t.Errorf("timeout: %q (is deadline: %v)", red, errors.Is(red, context.DeadlineExceeded))
	}
	if Error(nil) != nil {
		t.Error("Error(nil) != nil")
	}
	plain := errors.New("nothing secret")
	if Error(plain) != plain { //nolint:errorlint // the very same error, not one wrapping it
		t.Error("an error with nothing to mask is returned as is")
	}
}
