package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sightline-dev/sightline/internal/auth"
	"github.com/sightline-dev/sightline/internal/lifecycle"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// The personal-data endpoints of the admin API, under LifecyclePath:
//
//	POST /v1/admin/users/forget {"tenant": "acme", "user_id": "..."}
//	  deletes every row of the user (internal/lifecycle.Forget) and answers
//	  its report: rows deleted and remaining per table, verified.
//	POST /v1/admin/users/export {"tenant": "acme", "user_id": "..."}
//	  answers the user's rows as JSON lines (lifecycle.Export).
//
// The user id travels in the body, never in the URL, which proxies and
// access logs keep. Who may call is the authentication middleware's
// decision; the handler also refuses a request without a principal in its
// context (no guard ran), a key below admin, and a key of another tenant
// than the one named, and names the caller in the audit row.

// LifecyclePath is the prefix the handler serves.
const LifecyclePath = "/v1/admin/users/"

// forgetTimeout bounds the wait for ClickHouse's deletions of one request.
const forgetTimeout = 10 * time.Minute

// LifecycleHandler serves forget and export from conn.
func LifecycleHandler(conn driver.Conn) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeJSON(w, http.StatusMethodNotAllowed, apiError{"use POST with a JSON body {\"tenant\": ..., \"user_id\": ...}"})
			return
		}
		op := r.URL.Path[len(LifecyclePath):]
		if op != "forget" && op != "export" {
			writeJSON(w, http.StatusNotFound, apiError{"no such endpoint: " + LifecyclePath + "forget and " + LifecyclePath + "export exist"})
			return
		}
		if conn == nil {
			writeJSON(w, http.StatusNotFound, apiError{"this process has no ClickHouse to " + op + " from"})
			return
		}
		p, ok := auth.FromContext(r.Context())
		if !ok {
			writeJSON(w, http.StatusUnauthorized, apiError{"no authentication ran for this request"})
			return
		}
		var req struct {
			Tenant string `json:"tenant"`
			UserID string `json:"user_id"`
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{fmt.Sprintf("cannot read the request: want {\"tenant\": ..., \"user_id\": ...}: %v", err)})
			return
		}
		if !p.Role.Allows(auth.RoleAdmin) {
			auth.WriteDenied(w, fmt.Errorf("%w: %s needs an admin key", auth.ErrRole, op), false)
			return
		}
		if _, err := p.ReadTenant(req.Tenant); err != nil || req.Tenant == "" && !p.AllTenants() {
			auth.WriteDenied(w, fmt.Errorf("cannot %s a user of tenant %q: %w", op, req.Tenant, auth.ErrWrongTenant), false)
			return
		}
		who := chsink.AuditRow{Actor: p.Actor(), ActorName: p.Name, ActorTenant: p.Tenant, ActorRole: string(p.Role), RemoteAddr: r.RemoteAddr}
		w.Header().Set("Cache-Control", "no-store")
		if op == "forget" {
			rep, err := lifecycle.Forget(r.Context(), conn, req.Tenant, req.UserID, lifecycle.ForgetOptions{Audit: who, Timeout: forgetTimeout})
			switch {
			case errors.Is(err, lifecycle.ErrBadRequest):
				writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
			case err != nil:
				writeJSON(w, http.StatusInternalServerError, struct {
					Error  string           `json:"error"`
					Report lifecycle.Report `json:"report"`
				}{err.Error(), rep})
			default:
				writeJSON(w, http.StatusOK, rep)
			}
			return
		}
		ew := &exportWriter{w: w}
		_, err := lifecycle.Export(r.Context(), conn, req.Tenant, req.UserID, ew, who)
		switch {
		case err == nil:
			if !ew.started {
				ew.start() // no rows: an empty 200
			}
		case ew.started:
			// A status line cannot be taken back: break the response, so
			// the client sees an incomplete body, not a complete-looking
			// export that misses rows.
			panic(http.ErrAbortHandler)
		case errors.Is(err, lifecycle.ErrBadRequest):
			writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
		default:
			writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
		}
	})
}

// exportWriter sends the 200 and the JSON lines' content type with the
// first line, so an error before it can still be answered with a status.
type exportWriter struct {
	w       http.ResponseWriter
	started bool
}

func (e *exportWriter) start() {
	e.started = true
	e.w.Header().Set("Content-Type", "application/x-ndjson")
	e.w.WriteHeader(http.StatusOK)
}

func (e *exportWriter) Write(p []byte) (int, error) {
	if !e.started {
		e.start()
	}
	return e.w.Write(p)
}
