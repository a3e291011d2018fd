package console

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// conditions splits a statement's WHERE clause into its conditions.
func conditions(sql string) []string {
	_, rest, _ := strings.Cut(sql, "\nPREWHERE ")
	where, _, _ := strings.Cut(rest, "\nORDER BY")
	// The segment condition holds an AND of its own.
	where = strings.ReplaceAll(where, "?) AND segment_values", "?) &AND segment_values")
	var out []string
	for _, c := range strings.Split(where, " AND ") {
		out = append(out, strings.ReplaceAll(c, "&AND", "AND"))
	}
	return out
}

// FuzzParams: whatever query string a page gets, it is refused with a
// message or turned into a statement built only from the fixed fragments
// that the golden SQL test runs (sinks/clickhouse testdata/console): the
// calls explorer's conditions are a subset, in order, of the statement
// with every filter set; values only ever travel as arguments.
func FuzzParams(f *testing.F) {
	for _, s := range []string{"", "tenant=t&app=a&range=6h", "toxicity=0.5&refusal=1&pii=any&sort=cost&order=asc",
		"segment=user.locale%3Dhi-IN&variant=template:v3&after=1.5~abc", "app=%27%3BDROP%20TABLE%20x", "from=2026-01-01T00:00:00Z&to=1h",
		"window=1m&at=1777881600&feature=latency_ms", "before=99&rule=r", "%zz", "limit=10&limit=20", "app=%ff%fe"} {
		f.Add(s)
	}
	full := map[string][]string{}
	for _, s := range chsink.CallSorts() {
		for _, asc := range []bool{false, true} {
			q := chsink.CallQuery{Scope: chsink.ConsoleScope{Tenant: "t", App: "a", Model: "m", Variant: "v", From: testNow, To: testNow},
				Environment: "e", MinToxicity: new(float64), MinHallucination: new(float64), MinInjection: new(float64), Refusal: true,
				Error: true, PII: "email", Template: "x", TemplateVersion: "1", User: "u", Conversation: "c", SegmentKey: "k",
				SegmentValue: "v", Sort: s, Ascending: asc, After: &chsink.CallCursor{EventID: "e"}, Limit: 50, Bound: new(float64)}
			st := chsink.ListCallsStmt(q)
			full[st.Name] = conditions(st.SQL)
			q.Scope.Variant, q.PII = "template:1", "any"
			full[st.Name] = append(full[st.Name], conditions(chsink.ListCallsStmt(q).SQL)...)
		}
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for page := range pageParams {
			p, err := parseParams(page, v, testNow, 50)
			if err != nil {
				var bp badParam
				if !errors.As(err, &bp) {
					t.Fatalf("%s: not a refusal: %v", page, err)
				}
				continue
			}
			if !p.From.Before(p.To) || p.Limit < minPageSize || p.Limit > maxPageSize {
				t.Fatalf("%s: accepted %+v", page, p)
			}
			if page != "calls" {
				continue
			}
			st := chsink.ListCallsStmt(p.callQuery())
			allowed, ok := full[st.Name]
			if !ok {
				t.Fatalf("statement %s has no golden form", st.Name)
			}
			for _, c := range conditions(st.SQL) {
				found := false
				for _, a := range allowed {
					found = found || a == c
				}
				if !found {
					t.Fatalf("condition %q is not one of the fixed fragments", c)
				}
			}
			if strings.Count(st.SQL, "?") != len(st.Args) {
				t.Fatalf("%d placeholders, %d arguments", strings.Count(st.SQL, "?"), len(st.Args))
			}
		}
	})
}
