package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Secrets planted in every place an action's configuration holds one.
const (
	tokQuery  = "Qt0kenInQuery7x2"
	tokAccess = "Acc3ssTokenZ9k1"
	tokUser   = "us3rNameSecret"
	tokPass   = "Passw0rdInURL4q"
	tokPath   = "SlackPathSecret8Hq2Lm5Nx"
	tokBearer = "BearerHeader7Kq2"
	tokAPIKey = "ApiKeyHeader3Zp9"
	tokHMAC   = "HmacSigningSecret5Tw"
)

var allTokens = []string{tokQuery, tokAccess, tokUser, tokPass, tokPath, tokBearer, tokAPIKey, tokHMAC}

// echo answers status with everything it was sent, in several formats,
// the way debugging receivers and API gateways do.
func echo(status int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(status)
		fmt.Fprintf(w, "url=%s\nheaders=%v\n", r.URL.String(), r.Header)
		for k, vs := range r.Header {
			fmt.Fprintf(w, "%s: %s\n", k, strings.Join(vs, ","))
		}
		if u, p, ok := r.BasicAuth(); ok {
			fmt.Fprintf(w, "user %s with %s\n", u, p)
		}
		fmt.Fprintf(w, "raw values: %s %s\n", r.Header.Get("Authorization"), r.URL.Query().Get("token"))
		fmt.Fprintf(w, "body bytes: %d\n", len(body))
	})
}

// secretActions builds one action of each HTTP type against base (an
// http://host:port), every one carrying secrets.
func secretActions(base string) map[string]Action {
	host := strings.TrimPrefix(base, "http://")
	headers := map[string]string{"Authorization": "Bearer " + tokBearer, "X-Api-Key": tokAPIKey, "X-Team": "ml"}
	job, err := NewJob(JobConfig{Name: "job", URL: "http://" + tokUser + ":" + tokPass + "@" + host + "/jobs?token=" + tokQuery,
		Headers: headers, Body: `{"alert": {{json .AlertID}}}`, Secret: []byte(tokHMAC)})
	if err != nil {
		panic(err)
	}
	return map[string]Action{
		"webhook": &Webhook{URL: base + "/hook?token=" + tokQuery + "&access_token=" + tokAccess, Secret: []byte(tokHMAC), Headers: headers},
		"slack":   &Slack{URL: base + "/services/T000/B000/" + tokPath, Headers: headers},
		"alertmanager": &Alertmanager{URL: "http://" + tokUser + ":" + tokPass + "@" + host + "/am?sig=" + tokAccess,
			Headers: headers},
		"job": job,
	}
}

func checkClean(t *testing.T, what, text, host string) {
	t.Helper()
	for _, s := range allTokens {
		if strings.Contains(text, s) {
			t.Errorf("%s holds secret %q:\n%s", what, s, text)
		}
	}
	if host != "" && !strings.Contains(text, host) {
		t.Errorf("%s lost the receiver's host %s:\n%s", what, host, text)
	}
}

// TestActionErrorsRedacted: whatever an HTTP action's receiver does
// (refuse the connection, hang past the timeout, answer 500 or 404
// echoing the request's URL and headers), the error and the outcome carry
// no secret of the action's URL, headers or signing secret, and the error
// still names the receiver's host.
func TestActionErrorsRedacted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	e500 := httptest.NewServer(echo(http.StatusInternalServerError))
	defer e500.Close()
	e404 := httptest.NewServer(echo(http.StatusNotFound))
	defer e404.Close()
	tlsSrv := httptest.NewUnstartedServer(echo(http.StatusOK))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes are the point
	tlsSrv.StartTLS()                                   // not trusted: the handshake fails

	receivers := map[string]string{"refused": "http://" + refused, "timeout": hang.URL, "500": e500.URL, "404": e404.URL,
		"tls": strings.Replace(tlsSrv.URL, "https://", "http://", 1)}
	defer tlsSrv.Close()
	for rname, base := range receivers {
		for aname, a := range secretActions(base) {
			if rname == "tls" {
				// https:// to a server whose certificate is not trusted.
				a = secretActions(tlsSrv.URL)[aname]
				if w, ok := a.(*Webhook); ok {
					w.URL = strings.Replace(w.URL, "http://", "https://", 1)
				}
				if s, ok := a.(*Slack); ok {
					s.URL = strings.Replace(s.URL, "http://", "https://", 1)
				}
				if am, ok := a.(*Alertmanager); ok {
					am.URL = strings.Replace(am.URL, "http://", "https://", 1)
				}
				if j, ok := a.(*Job); ok {
					j.cfg.URL = strings.Replace(j.cfg.URL, "http://", "https://", 1)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			out, err := a.Notify(ctx, testNotification())
			cancel()
			what := rname + "/" + aname
			if err == nil {
				t.Errorf("%s: want an error", what)
				continue
			}
			host := strings.TrimPrefix(strings.TrimPrefix(base, "http://"), "https://")
			if rname == "tls" {
				host = strings.TrimPrefix(tlsSrv.URL, "https://")
			}
			checkClean(t, what+" error", err.Error(), host)
			checkClean(t, what+" outcome body", out.Body, "")
			if rname == "500" && (!strings.Contains(err.Error(), "500") || !strings.Contains(out.Body, "url=")) {
				t.Errorf("%s: the answer is not quoted: %v / %q", what, err, out.Body)
			}
			if rname == "404" && !IsPermanent(err) {
				t.Errorf("%s: 404 must stay permanent after redaction: %v", what, err)
			}
			if rname == "timeout" && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s: a timeout must stay one after redaction: %v", what, err)
			}
		}
	}
}

// TestQuotedBodyBounded: a long answer is quoted in the error only in
// part, and the outcome keeps at most MaxBody bytes, with a secret echoed
// across that limit masked whole, not cut into a prefix that escapes.
func TestQuotedBodyBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, strings.Repeat("x", MaxBody-5)+r.Header.Get("X-Api-Key")+strings.Repeat("y", 3*MaxBody))
	}))
	defer srv.Close()
	out, err := (&Webhook{URL: srv.URL, Headers: map[string]string{"X-Api-Key": tokAPIKey}}).Notify(context.Background(), testNotification())
	if err == nil || len(err.Error()) > 400 || len(out.Body) > MaxBody {
		t.Fatalf("error of %d bytes, body of %d bytes: %v", len(err.Error()), len(out.Body), err)
	}
	if strings.Contains(out.Body, tokAPIKey[:5]) {
		t.Errorf("a prefix of the secret survived the cut: ...%s", out.Body[len(out.Body)-20:])
	}
}

// TestDispatcherRedactsAnyAction: an Action from outside this package that
// does not redact still has its error and body masked before Record.
func TestDispatcherRedactsAnyAction(t *testing.T) {
	got := make(chan Attempt, 1)
	d := NewDispatcher(DispatcherConfig{Workers: 1, QueueSize: 1, Record: func(a Attempt) { got <- a }})
	defer d.Close(context.Background())
	leaky := actionFunc(func(context.Context, Notification) (Outcome, error) {
		return Outcome{Body: "Authorization: Bearer " + tokBearer},
			Permanent(fmt.Errorf("cannot post: %w", &netErr{"Post \"https://h.example/x?token=" + tokQuery + "\": EOF"}))
	})
	d.TryEnqueue(&Task{Action: "x", Target: leaky, Policy: Policy{Timeout: time.Second, MaxAttempts: 1}, Notification: testNotification()})
	a := <-got
	checkClean(t, "error", a.Err.Error(), "h.example")
	checkClean(t, "body", a.Result.Body, "")
	if a.Outcome != OutcomeFailed || !IsPermanent(a.Err) {
		t.Errorf("outcome %s, permanent %v", a.Outcome, IsPermanent(a.Err))
	}
}

type actionFunc func(context.Context, Notification) (Outcome, error)

func (f actionFunc) Notify(ctx context.Context, n Notification) (Outcome, error) { return f(ctx, n) }

type netErr struct{ s string }

func (e *netErr) Error() string { return e.s }

func TestJobURLRedacted(t *testing.T) {
	j, err := NewJob(JobConfig{Name: "j", URL: "https://u:" + tokPass + "@ci.example.com/dispatch?token=" + tokQuery, Body: "{}"})
	if err != nil {
		t.Fatal(err)
	}
	if got := j.URL(); got != "https://***@ci.example.com/dispatch?token=***" {
		t.Errorf("Job.URL() = %q", got)
	}
	err = ActionConfig{Name: "a", Type: TypeWebhook, URL: "ftp://x.example/?token=" + tokQuery}.Validate("alerts.actions[0]")
	if err == nil {
		t.Fatal("ftp:// URL accepted")
	}
	checkClean(t, "config error", err.Error(), "x.example")
}
