package grafana_test

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
)

// What Grafana and the ClickHouse data source plugin (grafana-clickhouse-datasource
// v4) do to a panel's SQL before ClickHouse sees it, in their order:
//
//  1. the plugin's frontend replaces $__conditionalAll(condition, $var) by
//     the condition, or by 1=1 when $var selects every value (All);
//  2. Grafana interpolates template variables ($var, ${var}, ${var:format},
//     [[var]]) with the plugin's formatter: a multi-value variable becomes
//     'a','b' (quoted, comma-separated), a single value stays as it is;
//  3. the plugin's backend expands its macros ($__timeFilter(col),
//     $__fromTime, $__toTime, $__timeInterval(col), $__interval_s, ...)
//     for the panel's time range and interval.
//
// The expansions follow the plugin's README macro table and
// pkg/macros/macros.go; anything left with a $ is an error, because
// ClickHouse would reject it and Grafana would show the panel broken.

// selection is the value of one template variable.
type selection struct {
	values []string
	all    bool // "All" is selected
	// single: the value is one string, not a list, as for a repeated
	// panel's own variable (Grafana's scoped variable).
	single bool
	v      *variable
}

// queryEnv is what a panel query is expanded with.
type queryEnv struct {
	from, to time.Time
	interval time.Duration
	scrape   time.Duration // Prometheus scrape interval, for $__rate_interval
	vars     map[string]selection
}

// expandSQL turns a panel's rawSql into the statement the plugin sends.
func expandSQL(sql string, env queryEnv) (string, error) {
	s, err := applyConditionalAll(sql, env)
	if err != nil {
		return "", err
	}
	if s, err = interpolate(s, env, formatSQLValue); err != nil {
		return "", err
	}
	if s, err = applyMacros(s, env); err != nil {
		return "", err
	}
	if i := strings.Index(s, "$"); i >= 0 {
		return "", fmt.Errorf("unexpanded %q left in the SQL: not a template variable nor a macro of the plugin", snippet(s, i))
	}
	return s, nil
}

// expandPromQL interpolates a Prometheus target's expression as Grafana's
// Prometheus data source does.
func expandPromQL(expr string, env queryEnv) (string, error) {
	s, err := interpolate(expr, env, formatPromValue)
	if err != nil {
		return "", err
	}
	rate := max(env.interval+env.scrape, 4*env.scrape)
	for _, r := range []struct {
		name string
		d    time.Duration
	}{{"$__rate_interval", rate}, {"$__interval", env.interval}, {"$__range", env.to.Sub(env.from)}} {
		s = strings.ReplaceAll(s, r.name, promDuration(r.d))
	}
	if i := strings.Index(s, "$"); i >= 0 {
		return "", fmt.Errorf("unexpanded %q left in the expression", snippet(s, i))
	}
	return s, nil
}

func snippet(s string, i int) string {
	end := min(len(s), i+24)
	return s[i:end]
}

func promDuration(d time.Duration) string {
	if d%time.Second != 0 || d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%ds", int64(d/time.Second))
}

// applyConditionalAll mirrors the plugin's frontend (CHDatasource.applyConditionalAll):
// from the last occurrence backwards, two arguments split at depth one.
func applyConditionalAll(sql string, env queryEnv) (string, error) {
	const macro = "$__conditionalAll("
	varName := regexp.MustCompile(`\$\{?(\w+)\}?`)
	for {
		i := strings.LastIndex(sql, macro)
		if i < 0 {
			return sql, nil
		}
		args, end, err := macroArgs(sql, i+len(macro)-1, true)
		if err != nil {
			return "", err
		}
		if len(args) != 2 {
			return "", fmt.Errorf("$__conditionalAll takes 2 arguments, got %d in %q", len(args), sql[i:end])
		}
		m := varName.FindStringSubmatch(strings.TrimSpace(args[1]))
		if m == nil {
			return "", fmt.Errorf("$__conditionalAll's second argument %q is not a variable", args[1])
		}
		sel, ok := env.vars[m[1]]
		if !ok {
			return "", fmt.Errorf("$__conditionalAll names $%s, which the dashboard does not define", m[1])
		}
		phrase := args[0]
		if sel.all || len(sel.values) == 0 {
			phrase = "1=1"
		}
		sql = sql[:i] + phrase + sql[end:]
	}
}

// macroArgs reads the parenthesised arguments that start at open. nested
// allows parentheses inside arguments (the frontend's parser counts them);
// the backend's macro parser stops at the first ")", so its macros must not
// have any. end is the index after the closing parenthesis.
func macroArgs(s string, open int, nested bool) (args []string, end int, err error) {
	depth, last := 0, open+1
	for j := open; j < len(s); j++ {
		switch s[j] {
		case '(':
			depth++
			if depth > 1 && !nested {
				return nil, 0, fmt.Errorf("macro arguments must not contain parentheses: %q", snippet(s, open))
			}
		case ')':
			depth--
			if depth == 0 {
				return append(args, s[last:j]), j + 1, nil
			}
		case ',':
			if depth == 1 {
				args = append(args, s[last:j])
				last = j + 1
			}
		}
	}
	return nil, 0, fmt.Errorf("unbalanced parentheses after %q", snippet(s, open))
}

// Grafana's variable syntaxes: $var, [[var]] or [[var:fmt]], ${var} or ${var:fmt}.
var variableRE = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?::(\w+))?\}`)

// interpolate replaces the dashboard's variables; other $names (macros,
// Grafana's globals) are left for the next step.
func interpolate(s string, env queryEnv, format func(selection, string) (string, error)) (string, error) {
	var err error
	out := variableRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := variableRE.FindStringSubmatch(m)
		name, fmtName := sub[1], ""
		switch {
		case sub[2] != "":
			name, fmtName = sub[2], sub[3]
		case sub[4] != "":
			name, fmtName = sub[4], sub[5]
		}
		sel, ok := env.vars[name]
		if !ok {
			return m
		}
		v, ferr := format(sel, fmtName)
		if ferr != nil && err == nil {
			err = fmt.Errorf("%s: %w", m, ferr)
		}
		return v
	})
	return out, err
}

// formatSQLValue is Grafana's formatting with the ClickHouse plugin's
// default formatter (CHDatasource.format: an array becomes 'a','b').
func formatSQLValue(sel selection, format string) (string, error) {
	multi := !sel.single && (sel.all || (sel.v != nil && sel.v.Multi))
	switch format {
	case "":
		if !multi {
			return strings.Join(sel.values, ","), nil
		}
		return "'" + strings.Join(sel.values, "','") + "'", nil
	case "singlequote":
		q := make([]string, len(sel.values))
		for i, v := range sel.values {
			q[i] = "'" + strings.ReplaceAll(v, "'", `\'`) + "'"
		}
		return strings.Join(q, ","), nil
	case "sqlstring":
		q := make([]string, len(sel.values))
		for i, v := range sel.values {
			q[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		}
		return strings.Join(q, ","), nil
	case "raw", "csv":
		return strings.Join(sel.values, ","), nil
	}
	return "", fmt.Errorf("format %q is not one the dashboards use", format)
}

// formatPromValue is the Prometheus data source's interpolation: a custom
// all value as it is, multi-value variables as an escaped regex
// alternation, a single-value variable with quotes and backslashes escaped.
func formatPromValue(sel selection, format string) (string, error) {
	if format != "" {
		return "", fmt.Errorf("format %q is not one the dashboards use", format)
	}
	if sel.all && sel.v != nil && sel.v.AllValue != "" {
		return sel.v.AllValue, nil
	}
	if sel.single || (sel.v != nil && !sel.v.Multi && !sel.v.IncludeAll) {
		return strings.NewReplacer(`\`, `\\`, `'`, `\\'`).Replace(strings.Join(sel.values, ",")), nil
	}
	esc := make([]string, len(sel.values))
	for i, v := range sel.values {
		esc[i] = regexp.MustCompile(`[\\^$*+?.()|{}\[\]/]`).ReplaceAllString(v, `\\$0`)
	}
	if len(esc) == 1 {
		return esc[0], nil
	}
	return "(" + strings.Join(esc, "|") + ")", nil
}

var macroRE = regexp.MustCompile(`\$__(\w+)`)

// applyMacros expands the plugin backend's macros (pkg/macros/macros.go).
func applyMacros(s string, env queryEnv) (string, error) {
	dt := func(t time.Time) string { return fmt.Sprintf("toDateTime(%d)", t.Unix()) }
	dt64 := func(t time.Time) string { return fmt.Sprintf("fromUnixTimestamp64Milli(%d)", t.UnixMilli()) }
	date := func(t time.Time) string { return fmt.Sprintf("toDate('%s')", t.UTC().Format("2006-01-02")) }
	secs := int(math.Max(env.interval.Seconds(), 1))
	ms := int(math.Max(float64(env.interval.Milliseconds()), 1))
	var b strings.Builder
	for {
		loc := macroRE.FindStringSubmatchIndex(s)
		if loc == nil {
			b.WriteString(s)
			return b.String(), nil
		}
		name := s[loc[2]:loc[3]]
		end := loc[1]
		var args []string
		if end < len(s) && s[end] == '(' {
			var err error
			if args, end, err = macroArgs(s, end, false); err != nil {
				return "", err
			}
			for i := range args {
				args[i] = strings.TrimSpace(args[i])
			}
		}
		need := func(n int) error {
			if len(args) != n {
				return fmt.Errorf("$__%s takes %d argument(s), got %d", name, n, len(args))
			}
			return nil
		}
		var out string
		var err error
		switch name {
		case "fromTime":
			out = dt(env.from)
		case "toTime":
			out = dt(env.to)
		case "fromTime_ms":
			out = dt64(env.from)
		case "toTime_ms":
			out = dt64(env.to)
		case "timeFilter":
			if err = need(1); err == nil {
				out = fmt.Sprintf("%s >= %s AND %s <= %s", args[0], dt(env.from), args[0], dt(env.to))
			}
		case "timeFilter_ms":
			if err = need(1); err == nil {
				out = fmt.Sprintf("%s >= %s AND %s <= %s", args[0], dt64(env.from), args[0], dt64(env.to))
			}
		case "dateFilter":
			if err = need(1); err == nil {
				out = fmt.Sprintf("%s >= %s AND %s <= %s", args[0], date(env.from), args[0], date(env.to))
			}
		case "dateTimeFilter", "dt":
			if err = need(2); err == nil {
				out = fmt.Sprintf("(%s >= %s AND %s <= %s) AND (%s >= %s AND %s <= %s)",
					args[0], date(env.from), args[0], date(env.to), args[1], dt(env.from), args[1], dt(env.to))
			}
		case "timeInterval":
			if err = need(1); err == nil {
				out = fmt.Sprintf("toStartOfInterval(toDateTime(%s), INTERVAL %d second)", args[0], secs)
			}
		case "timeInterval_ms":
			if err = need(1); err == nil {
				out = fmt.Sprintf("toStartOfInterval(toDateTime64(%s, 3), INTERVAL %d millisecond)", args[0], ms)
			}
		case "interval_s":
			out = fmt.Sprint(secs)
		default:
			err = fmt.Errorf("$__%s is not a macro of the ClickHouse plugin", name)
		}
		if err != nil {
			return "", err
		}
		b.WriteString(s[:loc[0]])
		b.WriteString(out)
		s = s[end:]
	}
}

// panelInterval is Grafana's interval for a panel: the range over the
// panel's data points, rounded to a readable step, at least the panel's
// minimum interval (its "interval" field).
func panelInterval(p panel, from, to time.Time) (time.Duration, error) {
	points := p.MaxDataPoints
	if points <= 0 {
		points = 1000 // about a panel's width in pixels, Grafana's default
	}
	iv := roundInterval((to.Sub(from)) / time.Duration(points))
	if p.Interval != "" {
		minIv, err := parseGrafanaDuration(p.Interval)
		if err != nil {
			return 0, fmt.Errorf("panel %q: interval %q: %w", p.Title, p.Interval, err)
		}
		iv = max(iv, minIv)
	}
	return iv, nil
}

// roundInterval is Grafana's rangeutil.roundInterval.
func roundInterval(d time.Duration) time.Duration {
	ms := d.Milliseconds()
	steps := []struct{ upTo, to int64 }{
		{10, 1}, {15, 10}, {35, 20}, {75, 50}, {150, 100}, {350, 200}, {750, 500}, {1500, 1000},
		{3500, 2000}, {7500, 5000}, {12500, 10000}, {17500, 15000}, {25000, 20000}, {45000, 30000},
		{90000, 60000}, {180000, 120000}, {450000, 300000}, {1050000, 600000}, {1350000, 900000},
		{1800000, 1200000}, {3600000, 1800000}, {7200000, 3600000}, {10800000, 7200000},
		{21600000, 10800000}, {43200000, 21600000}, {86400000, 43200000}, {604800000, 86400000},
		{1814400000, 604800000}, {3628800000, 2592000000},
	}
	for _, s := range steps {
		if ms <= s.upTo {
			return time.Duration(s.to) * time.Millisecond
		}
	}
	return 365 * 24 * time.Hour
}

func parseGrafanaDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := time.ParseDuration(n + "h")
		return 24 * d, err
	}
	return time.ParseDuration(s)
}

// variableQuery is a variable's query: a string (ClickHouse) or an object
// with a "query" field (Prometheus's variable editor).
func variableQuery(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var o struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return "", fmt.Errorf("query is neither a string nor an object with a query: %s", raw)
	}
	return o.Query, nil
}

// currentValues is a variable's saved selection: a string or a list.
func currentValues(raw json.RawMessage) []string {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(raw, &many)
	return many
}

// The expansions the plugin documents (its README's macro table, whose
// examples use this range) and Grafana's variable formats.
func TestMacros(t *testing.T) {
	from, to := time.Unix(1415792726, 0), time.Unix(1447328726, 0)
	multi := &variable{Name: "app", Multi: true, IncludeAll: true}
	single := &variable{Name: "window"}
	env := queryEnv{from: from, to: to, interval: 20 * time.Second, vars: map[string]selection{
		"app":    {values: []string{"support-bot", "it's"}, v: multi},
		"tenant": {values: []string{"a", "b"}, all: true, v: multi},
		"window": {values: []string{"60"}, v: single},
		"one":    {values: []string{"toxicity"}, single: true, v: multi},
	}}
	for _, tc := range []struct{ in, want, err string }{
		{in: "WHERE $__timeFilter(ts)", want: "WHERE ts >= toDateTime(1415792726) AND ts <= toDateTime(1447328726)"},
		{in: "WHERE $__timeFilter( ts )", want: "WHERE ts >= toDateTime(1415792726) AND ts <= toDateTime(1447328726)"},
		{in: "$__fromTime, $__toTime", want: "toDateTime(1415792726), toDateTime(1447328726)"},
		{in: "$__fromTime_ms", want: "fromUnixTimestamp64Milli(1415792726000)"},
		{in: "$__dateFilter(d)", want: "d >= toDate('2014-11-12') AND d <= toDate('2015-11-12')"},
		{in: "$__timeInterval(ts)", want: "toStartOfInterval(toDateTime(ts), INTERVAL 20 second)"},
		{in: "intDiv(x, $__interval_s)", want: "intDiv(x, 20)"},
		{in: "$__conditionalAll(app IN (${app:singlequote}), $app)", want: `app IN ('support-bot','it\'s')`},
		{in: "$__conditionalAll(tenant IN (${tenant:singlequote}), $tenant)", want: "1=1"},
		{in: "app IN ($app)", want: "app IN ('support-bot','it's')"}, // the plugin's formatter does not escape
		{in: "app IN (${app:sqlstring})", want: "app IN ('support-bot','it''s')"},
		{in: "window_seconds = ${window}", want: "window_seconds = 60"},
		{in: "signal = '${one}'", want: "signal = 'toxicity'"},
		{in: "$__timeGroup(ts)", err: "not a macro"},
		{in: "$__timeFilter(toDateTime(ts))", err: "parentheses"},
		{in: "$__timeFilter(a, b)", err: "argument"},
		{in: "x = $nope", err: "unexpanded"},
		{in: "$__conditionalAll(x = 1, $nope)", err: "does not define"},
		{in: "${app:percentencode}", err: "format"},
	} {
		got, err := expandSQL(tc.in, env)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: got %q, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s:\n got %q, %v\nwant %q", tc.in, got, err, tc.want)
		}
	}

	inst := &variable{Name: "instance", Multi: true, IncludeAll: true, AllValue: ".*"}
	job := &variable{Name: "job"}
	env.vars = map[string]selection{"instance": {values: []string{"h:1", "h:2"}, all: true, v: inst}, "job": {values: []string{"sightline"}, v: job}}
	env.scrape = 15 * time.Second
	for _, tc := range []struct{ in, want string }{
		{`rate(x{job="$job", instance=~"$instance"}[$__rate_interval])`, `rate(x{job="sightline", instance=~".*"}[60s])`},
		{`x[$__interval]`, `x[20s]`},
	} {
		got, err := expandPromQL(tc.in, env)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	env.vars["instance"] = selection{values: []string{"127.0.0.1:8088", "b:1"}, v: inst}
	if got, _ := expandPromQL(`{instance=~"$instance"}`, env); got != `{instance=~"(127\\.0\\.0\\.1:8088|b:1)"}` {
		t.Errorf("multi-value regex: %s", got)
	}

	for _, tc := range []struct {
		rng  time.Duration
		want time.Duration
	}{{25 * time.Minute, time.Second}, {time.Hour, 5 * time.Second}, {24 * time.Hour, time.Minute}, {7 * 24 * time.Hour, 10 * time.Minute}} {
		if got := roundInterval(tc.rng / 1000); got != tc.want {
			t.Errorf("interval of %s over 1000 points: %s, want %s", tc.rng, got, tc.want)
		}
	}
}
