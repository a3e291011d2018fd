package lifecycle

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// maxID bounds a tenant or user id taken from a request (the SDK's ids are
// far shorter).
const maxID = 1024

// ErrBadRequest marks a tenant or user id that cannot name anyone.
var ErrBadRequest = errors.New("bad request")

func checkIDs(tenant, userID string) error {
	for _, v := range []struct{ name, val string }{{"tenant", tenant}, {"user id", userID}} {
		switch {
		case strings.TrimSpace(v.val) == "":
			return fmt.Errorf("%w: the %s must not be empty", ErrBadRequest, v.name)
		case len(v.val) > maxID || !utf8.ValidString(v.val):
			return fmt.Errorf("%w: the %s must be valid UTF-8 of at most %d bytes", ErrBadRequest, v.name, maxID)
		}
	}
	return nil
}

// TableCount is one table's part of a forget or an export.
type TableCount struct {
	Table string `json:"table"`
	// Rows: exported rows, or rows deleted by forget (every stored copy).
	Rows uint64 `json:"rows"`
	// Remaining: the user's rows found in the table after forget (0 when
	// verified). Not set by export.
	Remaining uint64 `json:"remaining"`
}

// Report is what Forget or Export did. It names the user by the audit
// trail's hash, never by the id.
type Report struct {
	Tenant string `json:"tenant"`
	User   string `json:"user"`
	// RequestID identifies a forget (its snapshot and mutations).
	RequestID string       `json:"request_id,omitempty"`
	Tables    []TableCount `json:"tables"`
	// Verified: forget counted the user's rows again once its mutations
	// were done and found none.
	Verified bool `json:"verified"`
}

// Total is the rows deleted or exported in all tables.
func (r Report) Total() uint64 {
	var n uint64
	for _, t := range r.Tables {
		n += t.Rows
	}
	return n
}

func (r Report) detail(extra map[string]any) string {
	d := map[string]any{}
	for _, t := range r.Tables {
		d[t.Table] = t.Rows
	}
	if r.RequestID != "" {
		d["request_id"] = r.RequestID
	}
	for k, v := range extra {
		d[k] = v
	}
	b, _ := json.Marshal(d)
	return string(b)
}

// ForgetOptions tune Forget.
type ForgetOptions struct {
	// Audit describes who asks (actor fields, remote address); Forget
	// fills the action, tenant, target, detail and outcome.
	Audit chsink.AuditRow
	// Timeout bounds the wait for the deletions (default 10m).
	Timeout time.Duration
	// Poll is how often the wait looks at system.mutations (default
	// 500ms).
	Poll time.Duration
	// Rounds bounds how often the user's calls that arrived while a round
	// ran are deleted in another round (default 3).
	Rounds int
}

// Forget deletes every row of the user in chsink.UserTables: their calls
// in llm_events, the feedback and the re-evaluation verdicts of those
// calls. The calls' ids are snapshotted in llm_forget under a random
// request id, and one mutation per table deletes the rows whose ids are in
// the snapshot, so no statement ClickHouse keeps names the user. Forget
// waits for the mutations (ClickHouse runs them in the background), then
// counts again: calls of the user stored meanwhile are deleted in another
// round, and the report's Remaining is what is left after the last one.
// An audit row records the counts and the outcome; a report that is not
// verified comes with an error.
func Forget(ctx context.Context, conn driver.Conn, tenant, userID string, o ForgetOptions) (Report, error) {
	rep := Report{Tenant: tenant, User: chsink.AuditUserTarget(tenant, userID)}
	if err := checkIDs(tenant, userID); err != nil {
		return rep, err
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Poll == 0 {
		o.Poll = 500 * time.Millisecond
	}
	if o.Rounds == 0 {
		o.Rounds = 3
	}
	rep.RequestID = newRequestID()
	err := forget(ctx, conn, tenant, userID, o, &rep)
	// The snapshot holds only event ids, but it has served its purpose;
	// the retention task drops one left behind by a crash a day later.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if derr := chsink.DropForgetSnapshot(dctx, conn, rep.RequestID); derr != nil && err == nil {
		err = derr
	}
	a := o.Audit
	a.Action, a.Tenant, a.Target = chsink.AuditForget, tenant, rep.User
	a.Detail = rep.detail(map[string]any{"verified": rep.Verified})
	if err != nil {
		a.Outcome = chsink.AuditFailed
	}
	if aerr := chsink.InsertAudit(dctx, conn, a); aerr != nil {
		return rep, errors.Join(err, fmt.Errorf("the deletion ran but %w", aerr))
	}
	return rep, err
}

func forget(ctx context.Context, conn driver.Conn, tenant, userID string, o ForgetOptions, rep *Report) error {
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	counts := map[string]*TableCount{}
	for _, t := range chsink.UserTables {
		rep.Tables = append(rep.Tables, TableCount{Table: t.Name})
	}
	for i := range rep.Tables {
		counts[rep.Tables[i].Table] = &rep.Tables[i]
	}
	events := chsink.UserTables[0]
	for round := 1; round <= o.Rounds; round++ {
		n, err := chsink.SnapshotUserEvents(wctx, conn, rep.RequestID, tenant, userID)
		if err != nil {
			return err
		}
		if n == 0 && round > 1 {
			break
		}
		var started []string
		for _, t := range chsink.UserTables {
			c, err := chsink.CountForgetRows(wctx, conn, t, tenant, rep.RequestID)
			if err != nil {
				return err
			}
			if c == 0 {
				continue
			}
			if err := chsink.DeleteForgetRows(wctx, conn, t, tenant, rep.RequestID); err != nil {
				return err
			}
			counts[t.Name].Rows += c
			started = append(started, t.Name)
		}
		if err := waitMutations(wctx, conn, started, rep.RequestID, o.Poll); err != nil {
			return err
		}
		left, err := chsink.CountUserRows(wctx, conn, events, tenant, userID, false)
		if err != nil {
			return err
		}
		if left == 0 {
			break
		}
	}
	// Verify: the user's calls by user id, the rest by every id the
	// snapshot took (feedback of a deleted call stored meanwhile shows).
	verified := true
	for _, t := range chsink.UserTables {
		var left uint64
		var err error
		if t.Name == events.Name {
			left, err = chsink.CountUserRows(wctx, conn, t, tenant, userID, false)
		} else {
			left, err = chsink.CountForgetRows(wctx, conn, t, tenant, rep.RequestID)
		}
		if err != nil {
			return err
		}
		counts[t.Name].Remaining = left
		verified = verified && left == 0
	}
	rep.Verified = verified
	if !verified {
		return fmt.Errorf("cannot verify the deletion: rows of the user remain (%s); calls of the user are still arriving, run forget again", remaining(rep))
	}
	return nil
}

func remaining(rep *Report) string {
	var parts []string
	for _, t := range rep.Tables {
		if t.Remaining > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d", t.Table, t.Remaining))
		}
	}
	return strings.Join(parts, ", ")
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Export writes every row of the user in chsink.UserTables to w as JSON
// lines, {"table": "llm_events", "row": {column: value, ...}}, columns in
// the table's order, each row once (FINAL). The audit row (with the counts)
// is written before the first line: an export that cannot be audited
// writes nothing.
func Export(ctx context.Context, conn driver.Conn, tenant, userID string, w io.Writer, audit chsink.AuditRow) (Report, error) {
	rep := Report{Tenant: tenant, User: chsink.AuditUserTarget(tenant, userID)}
	if err := checkIDs(tenant, userID); err != nil {
		return rep, err
	}
	for _, t := range chsink.UserTables {
		n, err := chsink.CountUserRows(ctx, conn, t, tenant, userID, true)
		if err != nil {
			return rep, err
		}
		rep.Tables = append(rep.Tables, TableCount{Table: t.Name, Rows: n})
	}
	audit.Action, audit.Tenant, audit.Target, audit.Detail = chsink.AuditExport, tenant, rep.User, rep.detail(nil)
	if err := chsink.InsertAudit(ctx, conn, audit); err != nil {
		return rep, err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var line []byte
	for i, t := range chsink.UserTables {
		written := uint64(0)
		err := chsink.ExportUserRows(ctx, conn, t, tenant, userID, func(cols []string, vals []any) error {
			var err error
			if line, err = appendRow(line[:0], t.Name, cols, vals); err != nil {
				return err
			}
			written++
			if _, err := bw.Write(line); err != nil {
				return fmt.Errorf("cannot write the export: %w", err)
			}
			return nil
		})
		// The rows written, not the count before (a call may have
		// arrived or merged meanwhile).
		rep.Tables[i].Rows = written
		if err != nil {
			return rep, err
		}
	}
	if err := bw.Flush(); err != nil {
		return rep, fmt.Errorf("cannot write the export: %w", err)
	}
	return rep, nil
}

// appendRow appends one JSON line.
func appendRow(b []byte, table string, cols []string, vals []any) ([]byte, error) {
	b = append(b, `{"table":`...)
	b, _ = appendJSON(b, table)
	b = append(b, `,"row":{`...)
	for i, c := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		b, _ = appendJSON(b, c)
		b = append(b, ':')
		var err error
		if b, err = appendJSON(b, jsonValue(vals[i])); err != nil {
			return b, fmt.Errorf("cannot encode column %s of %s: %w", c, table, err)
		}
	}
	return append(b, "}}\n"...), nil
}

func appendJSON(b []byte, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

// jsonValue makes what JSON cannot hold expressible: non-finite floats
// become null, times RFC 3339 in UTC.
func jsonValue(v any) any {
	switch x := v.(type) {
	case float64:
		return finite(x)
	case float32:
		return finite32(x)
	case *float64:
		if x == nil {
			return nil
		}
		return finite(*x)
	case *float32:
		if x == nil {
			return nil
		}
		return finite32(*x)
	case []float32:
		out := make([]any, len(x))
		for i, f := range x {
			out[i] = finite32(f)
		}
		return out
	case []float64:
		out := make([]any, len(x))
		for i, f := range x {
			out[i] = finite(f)
		}
		return out
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	}
	return v
}

// finite32 keeps a float32 a float32, which JSON prints in its shortest
// form (0.1, not 0.10000000149011612).
func finite32(f float32) any {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return nil
	}
	return f
}

func finite(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return f
}
