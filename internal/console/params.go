package console

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// badParam is a request parameter the Console refuses; its text is shown
// on the page (400).
type badParam struct{ msg string }

func (e badParam) Error() string { return e.msg }

func bad(format string, args ...any) error { return badParam{fmt.Sprintf(format, args...)} }

// Limits of what a parameter may hold.
const (
	maxLabelBytes = 256
	minPageSize   = 10
	maxPageSize   = 200
	maxSpan       = 366 * 24 * time.Hour
	maxAhead      = 24 * time.Hour
	maxWindow     = 7 * 24 * 3600
)

// earliest is the earliest time a view may start: no event is stored
// from before 2000 (schemas refuses its ts).
var earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// ranges are the time ranges offered besides a custom one.
var ranges = []struct {
	name string
	d    time.Duration
}{{"15m", 15 * time.Minute}, {"1h", time.Hour}, {"6h", 6 * time.Hour}, {"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}}

const defaultRange = "1h"

// params is every parameter a page may take, validated. Which ones a page
// accepts is its own list (pageParams).
type params struct {
	Tenant, App, Model, Variant, Env string
	// Range is one of ranges, or "custom" (From and To given).
	Range    string
	From, To time.Time
	// FromText and ToText are the custom bounds as given (for the form).
	FromText, ToText string
	// Window is a window size in seconds (0: the page chooses).
	Window uint32

	// Calls explorer.
	MinToxicity, MinHallucination, MinInjection *float64
	Refusal, Error                              bool
	PII                                         string
	Template, TemplateVersion                   string
	User, Conversation                          string
	SegmentKey, SegmentValue                    string
	Sort                                        chsink.CallSort
	Ascending                                   bool
	After                                       *chsink.CallCursor
	Limit                                       int

	// Signals.
	At      time.Time
	Feature string
	// Alerts and jobs.
	Rule   string
	Before uint64
}

// commonParams are the filters every data page takes.
var commonParams = []string{"tenant", "app", "model", "variant", "env", "range", "from", "to"}

// pageParams lists the parameters each page accepts.
var pageParams = map[string][]string{
	"overview":     slices.Clone(commonParams),
	"calls":        append(slices.Clone(commonParams), "toxicity", "hallucination", "injection", "refusal", "error", "pii", "template", "template_version", "user", "conversation", "segment", "sort", "order", "after", "limit"),
	"call":         {"tenant", "app"},
	"signals":      append(slices.Clone(commonParams), "window"),
	"drift":        append(slices.Clone(commonParams), "window"),
	"distribution": append(slices.Clone(commonParams), "window", "at", "feature"),
	"bias":         append(slices.Clone(commonParams), "window", "at"),
	"ab":           append(slices.Clone(commonParams), "window", "at"),
	"alerts":       append(slices.Clone(commonParams), "rule", "before"),
	"jobs":         append(slices.Clone(commonParams), "before"),
}

var (
	idPattern     = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	piiPattern    = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)
	cursorPattern = regexp.MustCompile(`^([-+0-9.eE]{1,32})~([A-Za-z0-9._:-]{1,128})$`)
)

// parseParams validates the query of a page at now. Relative ranges end at
// now rounded up to a whole second, so requests within a second share
// their reads.
func parseParams(page string, v url.Values, now time.Time, pageSize int) (params, error) {
	p := params{Range: defaultRange, Sort: chsink.SortTime, Limit: pageSize}
	allowed := pageParams[page]
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	slices.Sort(names) // the first problem reported is the same every time
	for _, name := range names {
		if !slices.Contains(allowed, name) {
			return p, bad("unknown parameter %q on this page (it takes: %s)", trimForMessage(name), strings.Join(allowed, ", "))
		}
		if len(v[name]) > 1 {
			return p, bad("%s: given more than once", name)
		}
	}
	get := func(name string) string { return v.Get(name) }
	label := func(name string, dst *string) error {
		s := get(name)
		if err := checkLabel(s); err != nil {
			return bad("%s: %v", name, err)
		}
		*dst = s
		return nil
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"tenant", &p.Tenant}, {"app", &p.App}, {"model", &p.Model}, {"variant", &p.Variant}, {"env", &p.Env},
		{"template", &p.Template}, {"template_version", &p.TemplateVersion}, {"user", &p.User},
		{"conversation", &p.Conversation}, {"rule", &p.Rule}} {
		if err := label(f.name, f.dst); err != nil {
			return p, err
		}
	}
	if err := p.parseTime(get("range"), get("from"), get("to"), now); err != nil {
		return p, err
	}
	if s := get("window"); s != "" {
		w, err := parseWindow(s)
		if err != nil {
			return p, bad("window: %v", err)
		}
		p.Window = w
	}
	for _, f := range []struct {
		name string
		dst  **float64
	}{{"toxicity", &p.MinToxicity}, {"hallucination", &p.MinHallucination}, {"injection", &p.MinInjection}} {
		if s := get(f.name); s != "" {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(x) || x < 0 || x > 1 {
				return p, bad("%s: want a minimum score from 0 to 1, e.g. 0.5", f.name)
			}
			*f.dst = &x
		}
	}
	for _, f := range []struct {
		name string
		dst  *bool
	}{{"refusal", &p.Refusal}, {"error", &p.Error}} {
		switch get(f.name) {
		case "", "0", "false", "off", "no":
		case "1", "true", "on", "yes":
			*f.dst = true
		default:
			return p, bad("%s: want 1 or 0", f.name)
		}
	}
	if s := get("pii"); s != "" {
		if !piiPattern.MatchString(s) {
			return p, bad("pii: want a PII kind such as email, phone, credit_card, or any")
		}
		p.PII = s
	}
	if s := get("segment"); s != "" {
		k, val, ok := strings.Cut(s, "=")
		if !ok || k == "" || checkLabel(k) != nil || checkLabel(val) != nil {
			return p, bad("segment: want attribute=value, e.g. user.locale=hi-IN")
		}
		p.SegmentKey, p.SegmentValue = k, val
	}
	if s := get("sort"); s != "" {
		if !slices.Contains(chsink.CallSorts(), chsink.CallSort(s)) {
			return p, bad("sort: want one of %s", sortNames())
		}
		p.Sort = chsink.CallSort(s)
	}
	switch get("order") {
	case "", "desc":
	case "asc":
		p.Ascending = true
	default:
		return p, bad("order: want asc or desc")
	}
	if s := get("after"); s != "" {
		m := cursorPattern.FindStringSubmatch(s)
		if m == nil {
			return p, bad("after: not a page cursor of this explorer (follow the Next link)")
		}
		x, err := strconv.ParseFloat(m[1], 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return p, bad("after: not a page cursor of this explorer (follow the Next link)")
		}
		p.After = &chsink.CallCursor{Value: x, EventID: m[2]}
	}
	if s := get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < minPageSize || n > maxPageSize {
			return p, bad("limit: want a page size from %d to %d", minPageSize, maxPageSize)
		}
		p.Limit = n
	}
	if s := get("at"); s != "" {
		t, err := parseInstant(s)
		if err != nil {
			return p, bad("at: %v", err)
		}
		if t.Before(earliest) || t.After(now.Add(maxAhead)) {
			return p, bad("at: must be between %s and a day from now", earliest.Format("2006-01-02"))
		}
		p.At = t
	}
	if s := get("feature"); s != "" {
		if !slices.Contains(driftFeatures(), s) {
			return p, bad("feature: want one of %s", strings.Join(driftFeatures(), ", "))
		}
		p.Feature = s
	}
	if s := get("before"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 {
			return p, bad("before: not a page cursor of this list (follow the Older link)")
		}
		p.Before = n
	}
	return p, nil
}

func sortNames() string {
	var s []string
	for _, c := range chsink.CallSorts() {
		s = append(s, string(c))
	}
	return strings.Join(s, ", ")
}

// checkLabel accepts printable UTF-8 text of at most maxLabelBytes.
func checkLabel(s string) error {
	if len(s) > maxLabelBytes {
		return fmt.Errorf("must be at most %d bytes", maxLabelBytes)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("must be UTF-8 text")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("must not hold control characters")
		}
	}
	return nil
}

// trimForMessage keeps a refused value short and printable in a message.
func trimForMessage(s string) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
	if len(s) > 40 {
		s = strings.ToValidUTF8(s[:40], "") + "…"
	}
	return s
}

func (p *params) parseTime(rng, from, to string, now time.Time) error {
	end := now.Truncate(time.Second)
	if !end.Equal(now) {
		end = end.Add(time.Second)
	}
	if from == "" && to == "" {
		if rng == "" || rng == "custom" {
			rng = defaultRange
		}
		for _, r := range ranges {
			if r.name == rng {
				p.Range, p.From, p.To = rng, end.Add(-r.d), end
				return nil
			}
		}
		return bad("range: want one of 15m, 1h, 6h, 24h, 7d, or from and to")
	}
	// from and to win over a range left selected in the form.
	if rng != "" && rng != "custom" && !slices.ContainsFunc(ranges, func(r struct {
		name string
		d    time.Duration
	}) bool {
		return r.name == rng
	}) {
		return bad("range: want one of 15m, 1h, 6h, 24h, 7d, or from and to")
	}
	p.Range, p.FromText, p.ToText = "custom", from, to
	p.To = end
	if to != "" {
		t, err := parseInstant(to)
		if err != nil {
			return bad("to: %v", err)
		}
		p.To = t
	}
	p.From = p.To.Add(-time.Hour)
	if from != "" {
		t, err := parseInstant(from)
		if err != nil {
			return bad("from: %v", err)
		}
		p.From = t
	}
	for _, b := range []struct {
		name string
		t    time.Time
	}{{"to", p.To}, {"from", p.From}} {
		if b.t.Before(earliest) || b.t.After(now.Add(maxAhead)) {
			return bad("%s: must be between %s and a day from now", b.name, earliest.Format("2006-01-02"))
		}
	}
	if !p.To.After(p.From) {
		return bad("to must be after from")
	}
	if p.To.Sub(p.From) > maxSpan {
		return bad("from and to may span at most 366 days")
	}
	return nil
}

// parseInstant reads RFC 3339, a browser's datetime-local value (UTC),
// "YYYY-MM-DD HH:MM:SS" (UTC) or unix seconds.
func parseInstant(s string) (time.Time, error) {
	if len(s) <= 12 && s != "" && strings.Trim(s, "0123456789") == "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err == nil {
			return time.Unix(n, 0).UTC(), nil
		}
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("want a time such as 2026-01-02T15:04:05Z (UTC) or unix seconds")
}

// parseWindow reads a window size: seconds or a duration (10s, 1m, 1h).
func parseWindow(s string) (uint32, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		if n < 1 || n > maxWindow {
			return 0, fmt.Errorf("want a window size from 1s to 7 days")
		}
		return uint32(n), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Second || d > maxWindow*time.Second || d%time.Second != 0 {
		return 0, fmt.Errorf("want a window size in whole seconds, e.g. 60 or 1m")
	}
	return uint32(d / time.Second), nil
}

// scope is the key filters and time range of a read.
func (p params) scope() chsink.ConsoleScope {
	return chsink.ConsoleScope{Tenant: p.Tenant, App: p.App, Model: p.Model, Variant: p.Variant, From: p.From, To: p.To}
}

// callQuery is the calls explorer's selection.
func (p params) callQuery() chsink.CallQuery {
	return chsink.CallQuery{Scope: p.scope(), Environment: p.Env, MinToxicity: p.MinToxicity, MinHallucination: p.MinHallucination,
		MinInjection: p.MinInjection, Refusal: p.Refusal, Error: p.Error, PII: p.PII, Template: p.Template,
		TemplateVersion: p.TemplateVersion, User: p.User, Conversation: p.Conversation, SegmentKey: p.SegmentKey,
		SegmentValue: p.SegmentValue, Sort: p.Sort, Ascending: p.Ascending, After: p.After, Limit: p.Limit}
}

// query returns the filter parameters as a URL query (links keep the
// view's filters), with overrides applied ("" deletes a parameter).
func (p params) query(overrides ...string) url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("tenant", p.Tenant)
	set("app", p.App)
	set("model", p.Model)
	set("variant", p.Variant)
	set("env", p.Env)
	if p.Range == "custom" {
		set("from", p.FromText)
		set("to", p.ToText)
	} else if p.Range != defaultRange {
		set("range", p.Range)
	}
	if p.Window != 0 {
		set("window", strconv.FormatUint(uint64(p.Window), 10))
	}
	for i := 0; i+1 < len(overrides); i += 2 {
		if overrides[i+1] == "" {
			v.Del(overrides[i])
		} else {
			v.Set(overrides[i], overrides[i+1])
		}
	}
	return v
}

// href is path with the view's filters and the overrides.
func (p params) href(path string, overrides ...string) string {
	q := p.query(overrides...).Encode()
	if q == "" {
		return path
	}
	return path + "?" + q
}
