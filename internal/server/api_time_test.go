package server

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// since and until outside what can be stored are refused, naming the
// parameter, instead of matching nothing.
func TestReadQueryTimeRange(t *testing.T) {
	now := time.Now().UTC()
	for _, c := range []struct {
		params string
		want   string // in the error; "" for accepted
	}{
		{"since=0001-01-01T00:00:00Z", "since: must be between 2000-01-01T00:00:00Z and a day from now"},
		{"since=1999-12-31T23:59:59Z", "since: must be between"},
		{"since=2000-01-01T00:00:00Z", ""},
		{"since=1000000h", "since: must be between"},
		{"since=2h&until=" + now.Add(25*time.Hour).Format(time.RFC3339), "until: must be between"},
		{"until=9999-12-31T00:00:00Z", "until: must be between"},
		{"until=1970-01-01T00:00:00Z", "until: must be between"},
		{"since=2h&until=" + now.Add(23*time.Hour).Format(time.RFC3339), ""},
		{"since=" + now.Add(2*time.Hour).Format(time.RFC3339), "until must be after since"},
		{"since=1h&until=2h", "until must be after since"},
	} {
		v, err := url.ParseQuery(c.params)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = readQuery(v, nil)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.params, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want an error with %q", c.params, err, c.want)
		}
	}
}
