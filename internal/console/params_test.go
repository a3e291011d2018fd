package console

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

var testNow = time.Date(2026, 5, 4, 10, 30, 15, 500_000_000, time.UTC)

func TestParseParams(t *testing.T) {
	for _, tc := range []struct {
		page, query string
		err         string // "" for valid
		check       func(p params) bool
	}{
		{"overview", "", "", func(p params) bool {
			return p.Range == "1h" && p.To.Equal(testNow.Truncate(time.Second).Add(time.Second)) && p.To.Sub(p.From) == time.Hour
		}},
		{"overview", "range=7d", "", func(p params) bool { return p.To.Sub(p.From) == 7*24*time.Hour }},
		{"overview", "range=2h", "range: want one of", nil},
		{"overview", "from=2026-05-04T09:00:00Z&to=2026-05-04T10:00:00Z", "", func(p params) bool {
			return p.Range == "custom" && p.From.Hour() == 9 && p.To.Hour() == 10
		}},
		{"overview", "from=2026-05-04T09:00&range=1h", "", func(p params) bool { return p.Range == "custom" && p.From.Hour() == 9 }},
		{"overview", "from=1777881600", "", func(p params) bool { return p.From.Equal(time.Unix(1777881600, 0)) }},
		{"overview", "from=yesterday", "from: want a time", nil},
		{"overview", "from=1990-01-01T00:00:00Z", "from: must be between 2000-01-01", nil},
		{"overview", "to=2030-01-01T00:00:00Z", "to: must be between", nil},
		{"overview", "from=2026-05-04T10:00:00Z&to=2026-05-04T09:00:00Z", "to must be after from", nil},
		{"overview", "from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "span at most 366 days", nil},
		{"signals", "window=1m", "", func(p params) bool { return p.Window == 60 }},
		{"signals", "window=0", "window:", nil},
		{"signals", "window=1.5s", "window:", nil},
		{"overview", "app=a&app=b", "app: given more than once", nil},
		{"overview", "toxicity=0.5", `unknown parameter "toxicity"`, nil},
		{"overview", "app=" + strings.Repeat("x", 257), "app: must be at most 256 bytes", nil},
		{"overview", "app=%ff", "app: must be UTF-8", nil},
		{"overview", "app=a%0Ab", "app: must not hold control characters", nil},
		{"overview", "app=%27%3BDROP%20TABLE%20llm_events", "", func(p params) bool { return p.App == "';DROP TABLE llm_events" }},
		{"calls", "toxicity=0.5&refusal=1&error=true&pii=email&sort=latency&order=asc&limit=100", "", func(p params) bool {
			return *p.MinToxicity == 0.5 && p.Refusal && p.Error && p.PII == "email" && p.Sort == chsink.SortLatency && p.Ascending && p.Limit == 100
		}},
		{"calls", "toxicity=1.5", "toxicity: want a minimum score", nil},
		{"calls", "toxicity=NaN", "toxicity: want a minimum score", nil},
		{"calls", "refusal=maybe", "refusal: want 1 or 0", nil},
		{"calls", "pii=E-MAIL", "pii: want a PII kind", nil},
		{"calls", "segment=user.locale=hi-IN", "", func(p params) bool { return p.SegmentKey == "user.locale" && p.SegmentValue == "hi-IN" }},
		{"calls", "segment=nolocale", "segment: want attribute=value", nil},
		{"calls", "sort=random", "sort: want one of", nil},
		{"calls", "order=up", "order: want asc or desc", nil},
		{"calls", "after=1.5e15~0190c8e4-5a2b-7c3d", "", func(p params) bool { return p.After.Value == 1.5e15 && p.After.EventID == "0190c8e4-5a2b-7c3d" }},
		{"calls", "after=1~x%27", "after: not a page cursor", nil},
		{"calls", "after=Inf~x", "after: not a page cursor", nil},
		{"calls", "limit=5", "limit: want a page size from 10 to 200", nil},
		{"calls", "", "", func(p params) bool { return p.Limit == 50 && p.Sort == chsink.SortTime && !p.Ascending }},
		{"distribution", "feature=latency_ms&at=2026-05-04T10:00:00Z", "", func(p params) bool { return p.Feature == "latency_ms" && p.At.Hour() == 10 }},
		{"distribution", "feature=password", "feature: want one of", nil},
		{"distribution", "at=1999-12-31T00:00:00Z", "at: must be between", nil},
		{"alerts", "before=12&rule=toxic", "", func(p params) bool { return p.Before == 12 && p.Rule == "toxic" }},
		{"alerts", "before=-1", "before: not a page cursor", nil},
		{"call", "tenant=t&app=a", "", nil},
		{"call", "range=1h", `unknown parameter "range"`, nil},
	} {
		v, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		p, err := parseParams(tc.page, v, testNow, 50)
		if tc.err == "" {
			if err != nil {
				t.Errorf("%s?%s: %v", tc.page, tc.query, err)
			} else if tc.check != nil && !tc.check(p) {
				t.Errorf("%s?%s: parsed as %+v", tc.page, tc.query, p)
			}
			continue
		}
		var bp badParam
		if !errors.As(err, &bp) || !strings.Contains(bp.msg, tc.err) {
			t.Errorf("%s?%s: got %v, want a message containing %q", tc.page, tc.query, err, tc.err)
		}
	}
}

// Links keep the view's filters and round-trip through the parser.
func TestParamsLinksRoundTrip(t *testing.T) {
	v, _ := url.ParseQuery("tenant=t&app=a%20b&range=6h&toxicity=0.25&segment=user.locale%3Dhi-IN&sort=cost&order=asc")
	p, err := parseParams("calls", v, testNow, 50)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(p.href("/calls", p.callParams()...))
	q, err := parseParams("calls", u.Query(), testNow, 50)
	if err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	if q.Tenant != "t" || q.App != "a b" || q.Range != "6h" || *q.MinToxicity != 0.25 || q.SegmentValue != "hi-IN" ||
		q.Sort != chsink.SortCost || !q.Ascending {
		t.Fatalf("round trip of %s gave %+v", u, q)
	}
}
