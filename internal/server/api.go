package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/internal/auth"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// The read API (GET /v1/signals, /v1/alerts, /v1/summary, and for admin
// keys GET /v1/audit) answers from ClickHouse. It returns signals, alert
// history, per-app aggregates and the audit trail, never prompt or
// completion text (event content holds personal data; the Console's call
// page shows it, audited). A key of one tenant reads that tenant's rows
// only: the tenant travels into the query as a condition.

// Limits of one read request.
const (
	defaultRows = 500
	maxRows     = 10000
	// queryTimeout bounds one read so a heavy query cannot pile up.
	queryTimeout = 30 * time.Second
)

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// badRequest is an error in the request's parameters (400).
type badRequest struct{ msg string }

func (e badRequest) Error() string { return e.msg }

// The times a read may name: no event is stored from before 2000 (the
// schema refuses its ts), and ClickHouse's DateTime cannot hold times
// before 1970 or after 2106, so such a bound would match nothing instead
// of everything.
var earliestRead = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const maxAhead = 24 * time.Hour

// readQuery parses the parameters every read shares: equality filters
// (only those in columns, parameter name -> column), since/until and
// limit. since and until are RFC 3339 times or durations back from now
// ("1h"), from 2000-01-01 to a day ahead; since defaults to 24 hours
// back, until to now. The queries themselves are in sinks/clickhouse.
func readQuery(v url.Values, columns map[string]string) ([]chsink.Eq, chsink.Range, error) {
	var r chsink.Range
	for name := range v {
		if _, ok := columns[name]; !ok && name != "since" && name != "until" && name != "limit" {
			return nil, r, badRequest{fmt.Sprintf("unknown parameter %q", name)}
		}
	}
	now := time.Now()
	since, err := parseTime(v.Get("since"), now.Add(-24*time.Hour), now)
	if err != nil {
		return nil, r, badRequest{"since: " + err.Error()}
	}
	until, err := parseTime(v.Get("until"), now, now)
	if err != nil {
		return nil, r, badRequest{"until: " + err.Error()}
	}
	for _, t := range []struct {
		name string
		at   time.Time
	}{{"since", since}, {"until", until}} {
		if t.at.Before(earliestRead) || t.at.After(now.Add(maxAhead)) {
			return nil, r, badRequest{fmt.Sprintf("%s: must be between %s and a day from now", t.name, earliestRead.Format(time.RFC3339))}
		}
	}
	if !until.After(since) {
		return nil, r, badRequest{"until must be after since"}
	}
	r.Since, r.Until = since, until
	var eqs []chsink.Eq
	for name, col := range columns {
		if val, ok := v[name]; ok {
			eqs = append(eqs, chsink.Eq{Column: col, Value: val[0]})
		}
	}
	sort.Slice(eqs, func(i, j int) bool { return eqs[i].Column < eqs[j].Column })
	r.Limit = defaultRows
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxRows {
			return nil, r, badRequest{fmt.Sprintf("limit: must be a whole number from 1 to %d", maxRows)}
		}
		r.Limit = n
	}
	return eqs, r, nil
}

func parseTime(s string, def, now time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, errors.New("a duration back from now must not be negative")
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, errors.New("want an RFC 3339 time (2025-10-01T12:00:00Z) or a duration back from now (1h)")
	}
	return t, nil
}

// read runs one API read: parse, query, answer. tenant is the tenant the
// caller's key restricts the read to ("" for a key of every tenant or no
// authentication); a tenant parameter naming another is 403.
func (s *Server) read(w http.ResponseWriter, r *http.Request, run func(ctx context.Context, conn driver.Conn, tenant string) (any, error)) {
	p, ok := auth.FromContext(r.Context())
	if !ok {
		auth.WriteDenied(w, &auth.Denied{Status: http.StatusUnauthorized, Err: errors.New("no authentication ran for this request")}, false)
		return
	}
	tenant, err := p.ReadTenant(r.URL.Query().Get("tenant"))
	if err != nil {
		auth.WriteDenied(w, err, false)
		return
	}
	if s.cfg.Query == nil {
		writeJSON(w, http.StatusServiceUnavailable, apiError{"this process has no ClickHouse to read from"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
	defer cancel()
	out, err := run(ctx, s.cfg.Query, tenant)
	var br badRequest
	switch {
	case errors.As(err, &br):
		writeJSON(w, http.StatusBadRequest, apiError{br.msg})
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
	default:
		writeJSON(w, http.StatusOK, out)
	}
}

// signals answers GET /v1/signals?app=&model=&tenant=&variant=&signal=
// &metric=&group=&window_seconds=&flagged=true&since=&until=&limit=,
// oldest window first.
func (s *Server) signals(w http.ResponseWriter, r *http.Request) {
	s.read(w, r, func(ctx context.Context, conn driver.Conn, tenant string) (any, error) {
		v := r.URL.Query()
		f := chsink.SignalFilter{Tenant: tenant}
		// The parameters that are not plain string filters.
		if fl := v.Get("flagged"); fl != "" {
			b, err := strconv.ParseBool(fl)
			if err != nil {
				return nil, badRequest{"flagged: want true or false"}
			}
			f.FlaggedOnly = b
			v.Del("flagged")
		}
		if ws := v.Get("window_seconds"); ws != "" {
			n, err := strconv.ParseUint(ws, 10, 32)
			if err != nil || n == 0 {
				return nil, badRequest{"window_seconds: want a whole number of seconds"}
			}
			f.WindowSeconds = uint32(n)
			v.Del("window_seconds")
		}
		eqs, rg, err := readQuery(v, map[string]string{"tenant": "tenant", "app": "app", "model": "model",
			"variant": "variant", "signal": "signal", "metric": "metric", "group": "grp"})
		if err != nil {
			return nil, err
		}
		f.Eq, f.Range = eqs, rg
		out, err := chsink.ReadSignals(ctx, conn, f)
		if err != nil {
			return nil, err
		}
		return map[string]any{"signals": out}, nil
	})
}

// alerts answers GET /v1/alerts?rule=&state=&kind=&app=&model=&tenant=
// &severity=&incident_id=&since=&until=&limit=, in the order they were recorded.
func (s *Server) alerts(w http.ResponseWriter, r *http.Request) {
	s.read(w, r, func(ctx context.Context, conn driver.Conn, tenant string) (any, error) {
		eqs, rg, err := readQuery(r.URL.Query(), map[string]string{"rule": "rule", "state": "state", "kind": "kind",
			"app": "app", "model": "model", "tenant": "tenant", "severity": "severity", "incident_id": "incident_id"})
		if err != nil {
			return nil, err
		}
		out, err := chsink.ReadAlerts(ctx, conn, chsink.AlertFilter{Tenant: tenant, Eq: eqs, Range: rg})
		if err != nil {
			return nil, err
		}
		return map[string]any{"alerts": out}, nil
	})
}

// summary answers GET /v1/summary?tenant=&app=&model=&since=&until=:
// calls per tenant, app and model (deduplicated), by call time.
func (s *Server) summary(w http.ResponseWriter, r *http.Request) {
	s.read(w, r, func(ctx context.Context, conn driver.Conn, tenant string) (any, error) {
		eqs, rg, err := readQuery(r.URL.Query(), map[string]string{"tenant": "tenant", "app": "app", "model": "model"})
		if err != nil {
			return nil, err
		}
		out, err := chsink.ReadSummary(ctx, conn, chsink.SummaryFilter{Tenant: tenant, Eq: eqs, Range: rg})
		if err != nil {
			return nil, err
		}
		return map[string]any{"apps": out}, nil
	})
}

// audit answers GET /v1/audit?action=&actor=&tenant=&target=&outcome=
// &since=&until=&limit= (admin keys): who read which call's content, who
// created or revoked keys, who ran forget or export, oldest first. An
// admin key of one tenant sees the rows about that tenant or done by its
// keys.
func (s *Server) audit(w http.ResponseWriter, r *http.Request) {
	s.read(w, r, func(ctx context.Context, conn driver.Conn, tenant string) (any, error) {
		eqs, rg, err := readQuery(r.URL.Query(), map[string]string{"action": "action", "actor": "actor", "tenant": "tenant",
			"target": "target", "outcome": "outcome"})
		if err != nil {
			return nil, err
		}
		if tenant != "" {
			// The key's tenant bounds the rows; a tenant parameter
			// naming it adds nothing.
			eqs = slices.DeleteFunc(eqs, func(e chsink.Eq) bool { return e.Column == "tenant" })
		}
		out, err := chsink.ReadAudit(ctx, conn, chsink.AuditFilter{Tenant: tenant, Eq: eqs, Range: rg})
		if err != nil {
			return nil, err
		}
		return map[string]any{"audit": out}, nil
	})
}
