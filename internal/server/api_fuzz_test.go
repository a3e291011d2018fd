package server

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// FuzzReadQuery: any query string the read API gets is refused with a
// bad-request error or turned into bound conditions; never a panic, never
// a value pasted into the SQL.
func FuzzReadQuery(f *testing.F) {
	for _, s := range []string{"app=a&since=1h", "since=2025-10-01T00:00:00Z&until=2025-10-02T00:00:00Z&limit=10",
		"limit=0", "since=-1h", "app=%27;DROP%20TABLE%20x", "until=1h&since=2h", "x=y", "%zz"} {
		f.Add(s)
	}
	cols := map[string]string{"app": "app", "model": "model"}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := readQuery(v, "ts", cols)
		if err != nil {
			var br badRequest
			if !errors.As(err, &br) {
				t.Fatalf("not a bad request: %v", err)
			}
			return
		}
		if q.limit < 1 || q.limit > maxRows {
			t.Fatalf("limit %d", q.limit)
		}
		// Every condition is one of the fixed fragments: the values are
		// only ever arguments.
		allowed := map[string]bool{"ts >= toDateTime(?)": true, "ts < toDateTime(?)": true, "app = ?": true, "model = ?": true}
		sql := q.sql()
		for _, cond := range strings.Split(sql, " AND ") {
			if !allowed[cond] {
				t.Fatalf("condition %q in %q", cond, sql)
			}
		}
		if strings.Count(sql, "?") != len(q.args) {
			t.Fatalf("%d placeholders, %d arguments", strings.Count(sql, "?"), len(q.args))
		}
	})
}
