package console

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sightline-dev/sightline/processors/window"
	chsink "github.com/sightline-dev/sightline/sinks/clickhouse"
)

// chooseWindow picks the window size a view draws: the one asked for, or
// the smallest size with windows in range whose count stays drawable
// (larger sizes are the hourly rollups).
func chooseWindow(sizes []windowSize, asked uint32, span time.Duration) (uint32, bool) {
	if asked != 0 {
		return asked, true
	}
	if len(sizes) == 0 {
		return 0, false
	}
	for _, s := range sizes {
		if span/(time.Duration(s.Seconds)*time.Second) <= maxWindows {
			return s.Seconds, true
		}
	}
	return sizes[len(sizes)-1].Seconds, true
}

// sizeLinks offers the window sizes with data as links.
type sizeLink struct {
	Label  string
	Href   string
	Active bool
}

func sizeLinks(p params, base string, sizes []windowSize, cur uint32) []sizeLink {
	var out []sizeLink
	for _, s := range sizes {
		out = append(out, sizeLink{Label: fmtSeconds(s.Seconds), Href: p.href(base, "window", strconv.FormatUint(uint64(s.Seconds), 10)),
			Active: s.Seconds == cur})
	}
	return out
}

// callsHref links to the calls of one key and window (what an alert's
// webhook SQL selects): by call start in [start, start+secs), with the
// alert's segment group when it has one.
func callsHref(tenant, app, model, variant, grp string, start time.Time, secs uint32) string {
	q := urlValues("tenant", tenant, "app", app, "model", model, "variant", variant,
		"from", start.UTC().Format(time.RFC3339), "to", start.Add(time.Duration(secs)*time.Second).UTC().Format(time.RFC3339))
	if strings.Contains(grp, "=") {
		q.Set("segment", grp)
	}
	return "/calls?" + q.Encode()
}

func keyHref(base, tenant, app, model, variant string, extra ...string) string {
	q := urlValues(append([]string{"tenant", tenant, "app", app, "model", model, "variant", variant}, extra...)...)
	return base + "?" + q.Encode()
}

// parallel runs a page's independent reads at once and waits for all of
// them (the first error wins): a page costs its slowest read, not their
// sum. The goroutines end with the request.
func parallel(reads ...func() error) error {
	errs := make([]error, len(reads))
	var wg sync.WaitGroup
	for i, f := range reads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// ---- Overview ----

type kpi struct{ Label, Value string }

type chartView struct {
	Title  string
	SVG    template.HTML
	Legend template.HTML
	Note   string
}

type alertView struct {
	chsink.AlertSeriesState
	CallsHref, SignalsHref string
}

type flaggedView struct {
	chsink.FlaggedSignal
	Href, What string
}

type overviewBody struct {
	Step    uint32
	KPIs    []kpi
	Charts  []chartView
	Firing  []alertView
	Flagged []flaggedView
	Omitted int
	NoCalls bool
}

// overviewStep is the bucket of the Overview's charts: a round size giving
// at most maxPoints points.
func overviewStep(span time.Duration) uint32 {
	for _, s := range []uint32{10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 24 * 3600} {
		if span/(time.Duration(s)*time.Second) <= maxPoints {
			return s
		}
	}
	return 7 * 24 * 3600
}

func (c *Console) overview(r *http.Request, p params, d *pageData) error {
	ctx := r.Context()
	b := &overviewBody{}
	d.Body = b
	b.Step = overviewStep(p.To.Sub(p.From))
	var (
		firing  []chsink.AlertSeriesState
		flagged []chsink.FlaggedSignal
		data    overviewData
	)
	if err := parallel(
		func() error { return c.suggest(r, d, nil) },
		func() (err error) { firing, err = c.alertSeries(ctx, p.scope(), true); return err },
		func() (err error) { flagged, err = c.flaggedSignals(ctx, p.scope()); return err },
		func() (err error) { data, err = c.overviewCalls(ctx, p.scope(), p.Env, b.Step); return err },
	); err != nil {
		return err
	}
	for _, a := range firing {
		b.Firing = append(b.Firing, alertView{a, callsHref(a.Tenant, a.App, a.Model, a.Variant, a.Group, a.WindowStart, a.WindowSeconds),
			keyHref("/signals", a.Tenant, a.App, a.Model, a.Variant)})
	}
	for _, f := range flagged {
		b.Flagged = append(b.Flagged, flaggedOf(f))
	}
	t := data.Total
	if t.Calls == 0 {
		b.NoCalls = true
		return nil
	}
	b.KPIs = []kpi{{"Calls", fmtNum(t.Calls)}, {"Error rate", fmtPct(float64(t.Errors) / float64(t.Calls))}, {"Latency p50", fmtMS(t.P50)},
		{"Latency p90", fmtMS(t.P90)}, {"Latency p99", fmtMS(t.P99)}, {"TTFT p50", fmtMS(t.TTFTP50)}, {"Tokens", fmtNum(t.Tokens)},
		{"Cost", fmtUSD(t.CostUSD)}}
	byName := map[string][]chsink.OverviewPoint{}
	calls := map[string]uint64{}
	for _, pt := range data.Points {
		name := pt.App + " · " + pt.Model
		byName[name] = append(byName[name], pt)
		calls[name] += pt.Calls
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if calls[names[i]] != calls[names[j]] {
			return calls[names[i]] > calls[names[j]]
		}
		return names[i] < names[j]
	})
	const maxLines = 6
	if len(names) > maxLines {
		b.Omitted = len(names) - maxLines
		names = names[:maxLines]
	}
	nan := math.NaN()
	for _, ch := range []struct {
		title, format string
		value         func(pt chsink.OverviewPoint) float64
	}{
		{"Calls per " + fmtSeconds(b.Step), "num", func(pt chsink.OverviewPoint) float64 { return float64(pt.Calls) }},
		{"Error rate", "pct", func(pt chsink.OverviewPoint) float64 { return float64(pt.Errors) / float64(pt.Calls) }},
		{"Latency p50 (ms)", "ms", func(pt chsink.OverviewPoint) float64 { return pt.P50 }},
		{"Latency p90 (ms)", "ms", func(pt chsink.OverviewPoint) float64 { return pt.P90 }},
		{"Latency p99 (ms)", "ms", func(pt chsink.OverviewPoint) float64 { return pt.P99 }},
		{"Time to first token p50 (ms)", "ms", func(pt chsink.OverviewPoint) float64 {
			if pt.TTFTP50 == nil {
				return nan
			}
			return *pt.TTFTP50
		}},
		{"Tokens per " + fmtSeconds(b.Step), "num", func(pt chsink.OverviewPoint) float64 { return float64(pt.Tokens) }},
		{"Cost per " + fmtSeconds(b.Step) + " (USD)", "usd", func(pt chsink.OverviewPoint) float64 { return pt.CostUSD }},
	} {
		lc := lineChart{Title: ch.title, Format: ch.format, From: p.From.Unix(), To: p.To.Unix(), Step: int64(b.Step), ZeroMin: true}
		for _, n := range names {
			s := series{Name: n}
			for _, pt := range byName[n] {
				s.Pts = append(s.Pts, point{T: pt.Bucket.Unix(), V: ch.value(pt), Lo: nan, Hi: nan})
			}
			lc.Series = append(lc.Series, s)
		}
		b.Charts = append(b.Charts, chartView{Title: ch.title, SVG: lc.svg(), Legend: legend(names)})
	}
	return nil
}

func flaggedOf(f chsink.FlaggedSignal) flaggedView {
	v := flaggedView{FlaggedSignal: f}
	at := strconv.FormatInt(f.WindowStart.Unix(), 10)
	secs := strconv.FormatUint(uint64(f.WindowSeconds), 10)
	switch f.Metric {
	case "drift":
		v.What = f.Signal + " drifted"
		v.Href = keyHref("/signals/drift/distribution", f.Tenant, f.App, f.Model, f.Variant, "window", secs, "at", at, "feature", f.Signal)
	case "bias":
		v.What = fmt.Sprintf("%s differs across %s", f.Signal, f.Group)
		v.Href = keyHref("/signals/bias", f.Tenant, f.App, f.Model, f.Variant, "window", secs, "at", at)
	default:
		v.What = fmt.Sprintf("%s: %s differs from the control", f.Group, f.Signal)
		v.Href = keyHref("/signals/ab", f.Tenant, f.App, f.Model, f.Variant, "window", secs, "at", at)
	}
	return v
}

// suggest fills the filter form's suggestions: the keys the page read,
// or the keys of the last week.
func (c *Console) suggest(r *http.Request, d *pageData, kws []chsink.KeyWindows) error {
	if kws == nil {
		var err error
		if kws, err = c.knownKeys(r.Context(), onlyTenant(r)); err != nil {
			return err
		}
	}
	set := func(dst *[]string, v string) {
		if v != "" && !slices.Contains(*dst, v) {
			*dst = append(*dst, v)
		}
	}
	f := &d.Form
	for _, k := range kws {
		set(&f.Tenants, k.Tenant)
		set(&f.Apps, k.App)
		set(&f.Models, k.Model)
		set(&f.Variants, k.Variant)
	}
	for _, l := range []*[]string{&f.Tenants, &f.Apps, &f.Models, &f.Variants} {
		sort.Strings(*l)
	}
	return nil
}

// ---- Calls explorer ----

type callRow struct {
	chsink.CallSummary
	Href                         string
	Toxic, Hallucinated, Injects bool
}

type sortHead struct {
	Label, Href string
	Active      bool
	Arrow       string
}

type callsBody struct {
	Rows     []callRow
	Next     string
	First    string
	Heads    map[string]sortHead
	PIIKinds []string
	Paged    bool
	Sorts    []string
}

func (c *Console) calls(r *http.Request, p params, d *pageData) error {
	var page callsPage
	if err := parallel(
		func() error { return c.suggest(r, d, nil) },
		func() (err error) { page, err = c.listCalls(r.Context(), p.callQuery()); return err },
	); err != nil {
		return err
	}
	b := &callsBody{Heads: map[string]sortHead{}, PIIKinds: []string{"email", "phone", "credit_card", "ssn", "iban", "ip_address", "api_key", "jwt", "private_key"}}
	for _, s := range chsink.CallSorts() {
		b.Sorts = append(b.Sorts, string(s))
	}
	d.Body = b
	keep := p.callParams()
	for _, c2 := range page.Calls {
		row := callRow{CallSummary: c2, Href: "/calls/" + c2.EventID + "?" + urlValues("tenant", c2.Tenant, "app", c2.App).Encode()}
		if v, ok := deref(c2.CompletionToxicity); ok && v >= c.win.Threshold("toxicity") {
			row.Toxic = true
		}
		if v, ok := deref(c2.Hallucination); ok && v >= c.win.Threshold("hallucination") {
			row.Hallucinated = true
		}
		if v, ok := deref(c2.PromptInjection); ok && v >= c.win.Threshold("prompt_injection") {
			row.Injects = true
		}
		b.Rows = append(b.Rows, row)
	}
	if page.More && len(page.Calls) > 0 {
		last := page.Calls[len(page.Calls)-1]
		b.Next = p.href("/calls", append(keep, "after", strconv.FormatFloat(last.SortValue, 'g', -1, 64)+"~"+last.EventID)...)
	}
	if p.After != nil {
		b.Paged = true
		b.First = p.href("/calls", keep...)
		d.Refresh = 0 // a later page does not change when new calls arrive
	}
	for _, s := range chsink.CallSorts() {
		h := sortHead{Label: string(s)}
		order := "desc"
		if s == p.Sort {
			h.Active = true
			h.Arrow = "↓"
			if p.Ascending {
				h.Arrow = "↑"
			} else {
				order = "asc"
			}
		}
		kv := slices.Clone(keep)
		kv = setKV(kv, "sort", string(s))
		kv = setKV(kv, "order", map[string]string{"desc": "", "asc": "asc"}[order])
		h.Href = p.href("/calls", kv...)
		b.Heads[string(s)] = h
	}
	return nil
}

func setKV(kv []string, k, v string) []string {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == k {
			kv[i+1] = v
			return kv
		}
	}
	return append(kv, k, v)
}

// callParams are the calls explorer's own parameters as overrides (links
// keep them; the cursor is set by the link).
func (p params) callParams() []string {
	f := func(x *float64) string {
		if x == nil {
			return ""
		}
		return strconv.FormatFloat(*x, 'g', -1, 64)
	}
	b := func(x bool) string {
		if x {
			return "1"
		}
		return ""
	}
	seg := ""
	if p.SegmentKey != "" {
		seg = p.SegmentKey + "=" + p.SegmentValue
	}
	sortName, order := string(p.Sort), ""
	if p.Sort == chsink.SortTime {
		sortName = ""
	}
	if p.Ascending {
		order = "asc"
	}
	limit := ""
	if p.Limit != 0 {
		limit = strconv.Itoa(p.Limit)
	}
	return []string{"toxicity", f(p.MinToxicity), "hallucination", f(p.MinHallucination), "injection", f(p.MinInjection),
		"refusal", b(p.Refusal), "error", b(p.Error), "pii", p.PII, "template", p.Template, "template_version", p.TemplateVersion,
		"user", p.User, "conversation", p.Conversation, "segment", seg, "sort", sortName, "order", order, "limit", limit}
}

// ---- Call detail ----

type message struct {
	Role     string
	Segments []segment
	Finish   string
}

type scoreView struct {
	Name, Value, Note string
	Flagged           bool
}

type callBody struct {
	Call                 *chsink.CallDetail
	Content              bool
	Prompt, Completion   []message
	Context              [][]segment
	Reference            string
	Scores               []scoreView
	ToxicTerms           []string
	Unsupported          []string
	Injection            []string
	NotFoundInText       []string
	PII                  []string
	Segments, Attributes [][2]string
	TraceHref            string
	Feedback             []chsink.Feedback
	Verdicts             []chsink.Verdict
	Conversation         []callRow
	Signals              string
}

func (c *Console) call(r *http.Request, p params, d *pageData) error {
	d.Refresh = 0 // one stored call does not change; live refresh would re-read content
	id := r.PathValue("id")
	if !idPattern.MatchString(id) {
		return bad("call id: want the event id of a call (letters, digits, -._:)")
	}
	ctx := r.Context()
	call, err := chsink.GetCall(ctx, c.conn, p.Tenant, p.App, id)
	if err != nil {
		return err
	}
	if call == nil {
		return errNotFound
	}
	b := &callBody{Call: call, Signals: keyHref("/signals", call.Tenant, call.App, call.Model, call.Variant)}
	d.Body = b
	d.Title = "Call " + id
	b.Scores = c.scores(call)
	b.PII = call.PIIKinds
	if call.TraceID != "" && c.cfg.TraceLinkTemplate != "" && idPattern.MatchString(call.TraceID) {
		b.TraceHref = strings.NewReplacer("{trace_id}", call.TraceID, "{span_id}", call.SpanID).Replace(c.cfg.TraceLinkTemplate)
	}
	if err := c.gate.AllowContent(r); err != nil {
		// Scores, tokens, latency and labels only.
		return contentRefused{err.Error()}
	}
	// Who read it is recorded before anything is shown.
	if err := c.auditContent(ctx, r, call); err != nil {
		return err
	}
	b.Content = true
	ev := map[string][]string{markToxic: call.ToxicityEvidence, markUnsupported: call.UnsupportedSpans}
	for i, content := range call.PromptContents {
		role := at(call.PromptRoles, i)
		b.Prompt = append(b.Prompt, message{Role: role, Segments: highlight(content,
			map[string][]string{markInjection: call.InjectionEvidence, markToxic: call.ToxicityEvidence})})
	}
	for i, content := range call.CompletionContents {
		b.Completion = append(b.Completion, message{Role: at(call.CompletionRoles, i), Segments: highlight(content, ev), Finish: at(call.FinishReasons, i)})
	}
	for _, ctxt := range call.Context {
		b.Context = append(b.Context, highlight(ctxt, nil))
	}
	b.Reference = call.Reference
	b.ToxicTerms, b.Unsupported, b.Injection = call.ToxicityEvidence, call.UnsupportedSpans, call.InjectionEvidence
	all := append(slices.Clone(call.PromptContents), call.CompletionContents...)
	for _, terms := range [][]string{call.ToxicityEvidence, call.UnsupportedSpans, call.InjectionEvidence} {
		hit := found(terms, all...)
		for _, t := range terms {
			if !hit[t] {
				b.NotFoundInText = append(b.NotFoundInText, t)
			}
		}
	}
	for i, k := range call.SegmentKeys {
		b.Segments = append(b.Segments, [2]string{k, at(call.SegmentValues, i)})
	}
	for i, k := range call.AttributeKeys {
		b.Attributes = append(b.Attributes, [2]string{k, cut(at(call.AttributeValues, i), 500)})
	}
	var conv []chsink.CallSummary
	if err := parallel(
		func() (err error) {
			b.Feedback, err = chsink.CallFeedback(ctx, c.conn, call.Tenant, call.EventID, 100)
			return err
		},
		func() (err error) {
			b.Verdicts, err = chsink.CallVerdicts(ctx, c.conn, call.Tenant, call.EventID, 20)
			return err
		},
		func() (err error) {
			if call.ConversationID != "" {
				conv, err = chsink.ConversationCalls(ctx, c.conn, call.Tenant, call.App, call.ConversationID, call.TS, 100)
			}
			return err
		},
	); err != nil {
		return err
	}
	for _, cs := range conv {
		b.Conversation = append(b.Conversation, callRow{CallSummary: cs,
			Href: "/calls/" + cs.EventID + "?" + urlValues("tenant", cs.Tenant, "app", cs.App).Encode()})
	}
	return nil
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

func (c *Console) scores(call *chsink.CallDetail) []scoreView {
	var out []scoreView
	add := func(name string, v *float32, thr float64, note string) {
		s := scoreView{Name: name, Value: fmtScore(v), Note: note}
		if f, ok := deref(v); ok && thr > 0 && f >= thr {
			s.Flagged = true
		}
		out = append(out, s)
	}
	add("completion toxicity", call.CompletionToxicity, c.win.Threshold("toxicity"), "")
	add("prompt toxicity", call.PromptToxicity, c.win.Threshold("toxicity"), "")
	add("hallucination risk", call.Hallucination, c.win.Threshold("hallucination"), "NULL when there was no context or reference to check")
	add("grounding", call.Grounding, 0, "")
	add("prompt injection", call.PromptInjection, c.win.Threshold("prompt_injection"), "")
	add("refusal confidence", call.RefusalConfidence, 0, "")
	add("ROUGE-L", call.RougeL, 0, "")
	add("BLEU", call.BLEU, 0, "")
	add("token F1", call.TokenF1, 0, "")
	add("exact match", call.ExactMatch, 0, "")
	if call.Refusal {
		out = append(out, scoreView{Name: "refusal", Value: "yes", Flagged: true})
	}
	return out
}

// ---- Signals ----

// keyView is the key a signals page shows and the others it could.
type keyView struct {
	Key     sigKey
	Keys    []keyLink
	Seconds uint32
	Sizes   []sizeLink
	Scope   chsink.ConsoleScope
	None    string
	Tabs    []sizeLink
	// Found is what the key read found (the form's suggestions).
	Found []chsink.KeyWindows
}

type keyLink struct {
	Label  string
	Href   string
	Calls  float64
	Active bool
}

// resolveKey picks the key of a signals page: the one the filters name
// fully, else the busiest one matching them.
func (c *Console) resolveKey(r *http.Request, p params, base string, ab bool) (*keyView, error) {
	ctx := r.Context()
	kv := &keyView{}
	kws, err := c.keyWindows(ctx, p.scope())
	if err != nil {
		return nil, err
	}
	kv.Found = kws
	sizes := sizesOf(kws)
	secs, ok := chooseWindow(sizes, p.Window, p.To.Sub(p.From))
	kv.Tabs = c.tabs(p, base)
	if !ok {
		kv.None = "No signals match these filters in this time range. Widen the range or clear a filter."
		return kv, nil
	}
	kv.Seconds, kv.Sizes = secs, sizeLinks(p, base, sizes, secs)
	keys := keysOf(kws, secs)
	full := p.Tenant != "" && p.App != "" && p.Model != "" && (p.Variant != "" || ab)
	switch {
	case full:
		kv.Key = sigKey{Tenant: p.Tenant, App: p.App, Model: p.Model, Variant: p.Variant}
	case len(keys) > 0:
		kv.Key = keys[0]
		if ab {
			// The busiest key that has A/B rows: a control with treatments.
			for _, k := range keys {
				if k.Variant != "" && k.Variant != "control" {
					kv.Key = k
					break
				}
			}
		}
	default:
		kv.None = "No signals of " + fmtSeconds(secs) + " windows match these filters in this time range."
		return kv, nil
	}
	for _, k := range keys {
		if len(kv.Keys) >= 40 {
			break
		}
		active := k.Tenant == kv.Key.Tenant && k.App == kv.Key.App && k.Model == kv.Key.Model && (ab || k.Variant == kv.Key.Variant)
		label := strings.Join([]string{k.Tenant, k.App, k.Model, k.Variant}, " / ")
		q := p.query("tenant", k.Tenant, "app", k.App, "model", k.Model, "variant", k.Variant)
		if ab {
			label = strings.Join([]string{k.Tenant, k.App, k.Model}, " / ")
			q.Del("variant")
			if slices.ContainsFunc(kv.Keys, func(l keyLink) bool { return l.Label == label }) {
				continue
			}
		}
		kv.Keys = append(kv.Keys, keyLink{Label: label, Href: base + "?" + q.Encode(), Calls: k.Calls, Active: active})
	}
	kv.Scope = chsink.ConsoleScope{Tenant: kv.Key.Tenant, App: kv.Key.App, Model: kv.Key.Model, Variant: kv.Key.Variant, From: p.From, To: p.To}
	return kv, nil
}

// tabs link the signals views of the same filters.
func (c *Console) tabs(p params, active string) []sizeLink {
	var out []sizeLink
	for _, t := range []struct{ label, path string }{{"Rates and quantiles", "/signals"}, {"Drift", "/signals/drift"},
		{"Bias", "/signals/bias"}, {"A/B", "/signals/ab"}} {
		out = append(out, sizeLink{Label: t.label, Href: p.href(t.path), Active: t.path == active})
	}
	return out
}

type signalsBody struct {
	K         *keyView
	Rates     []chartView
	Quantiles []chartView
}

// thresholds are the alert thresholds on signal/metric of a key and
// window size: the configured rules that match it, and the rules the alert
// engine recorded for it (a Console run without the config file still
// draws them).
func (c *Console) thresholds(k sigKey, recorded []chsink.AlertThreshold, signal, metric string, secs uint32) []hline {
	var out []hline
	seen := map[string]bool{}
	m := func(pattern, v string) bool {
		if pattern == "" {
			return true
		}
		ok, _ := path.Match(pattern, v)
		return ok
	}
	for _, r := range c.rules {
		name, met, _ := strings.Cut(r.Signal, "/")
		if r.Threshold == nil || r.Operator == "" || !m(name, signal) || !m(met, metric) || !m(r.Match.Tenant, k.Tenant) ||
			!m(r.Match.App, k.App) || !m(r.Match.Model, k.Model) || !m(r.Match.Variant, k.Variant) || r.Match.Group != "" {
			continue
		}
		if r.Window != 0 && uint32(r.Window/time.Second) != secs {
			continue
		}
		seen[r.Name] = true
		out = append(out, hline{V: *r.Threshold, Label: fmt.Sprintf("%s %s %s", r.Name, r.Operator, trimNum(*r.Threshold))})
	}
	for _, a := range recorded {
		op, _, ok := strings.Cut(a.Condition, " ")
		if seen[a.Rule] || a.Signal != signal || a.Metric != metric || !ok || !slices.Contains([]string{">", ">=", "<", "<=", "==", "!="}, op) ||
			(a.WindowSeconds != 0 && a.WindowSeconds != secs) {
			continue
		}
		seen[a.Rule] = true
		out = append(out, hline{V: a.Threshold, Label: fmt.Sprintf("%s %s", a.Rule, a.Condition)})
	}
	return out
}

func (c *Console) signals(r *http.Request, p params, d *pageData) error {
	kv, err := c.resolveKey(r, p, "/signals", false)
	if err != nil {
		return err
	}
	if err := c.suggest(r, d, kv.Found); err != nil {
		return err
	}
	b := &signalsBody{K: kv}
	d.Body = b
	if kv.None != "" {
		return nil
	}
	ctx := r.Context()
	var rates, qrows []chsink.KeySignal
	var recorded []chsink.AlertThreshold
	if err := parallel(
		func() (err error) {
			rates, err = c.keySignals(ctx, kv.Scope, kv.Seconds, chsink.ViewRates, time.Time{})
			return err
		},
		func() (err error) {
			qrows, err = c.keySignals(ctx, kv.Scope, kv.Seconds, chsink.ViewQuantiles, time.Time{})
			return err
		},
		func() (err error) { recorded, err = c.alertThresholds(ctx, kv.Key); return err },
	); err != nil {
		return err
	}
	from, to, step := p.From.Unix(), p.To.Unix(), int64(kv.Seconds)
	bySignal := map[string][]point{}
	for _, row := range rates {
		bySignal[row.Signal] = append(bySignal[row.Signal], point{T: row.WindowStart.Unix(), V: row.Value, Lo: nanOr(row.Lo), Hi: nanOr(row.Hi)})
	}
	for _, o := range window.OutcomeNames() {
		pts := bySignal[o]
		if len(pts) == 0 {
			continue
		}
		lc := lineChart{Title: o + " rate", Format: "pct", From: from, To: to, Step: step, ZeroMin: true,
			Series: []series{{Name: o + " rate", Pts: pts}}, Lines: c.thresholds(kv.Key, recorded, o, "rate", kv.Seconds)}
		note := "band: 95% Wilson interval"
		if len(lc.Lines) > 0 {
			note += "; dashed: alert threshold"
		}
		b.Rates = append(b.Rates, chartView{Title: o + " rate", SVG: lc.svg(), Note: note})
	}
	bySM := map[string][]point{}
	for _, row := range qrows {
		bySM[row.Signal+"/"+row.Metric] = append(bySM[row.Signal+"/"+row.Metric], point{T: row.WindowStart.Unix(), V: row.Value, Lo: math.NaN(), Hi: math.NaN()})
	}
	for _, q := range []struct{ signal, title, format string }{{"latency_ms", "Latency (ms)", "ms"}, {"ttft_ms", "Time to first token (ms)", "ms"},
		{"total_tokens", "Tokens per call", "num"}, {"cost_usd", "Cost per call (USD)", "usd"}} {
		lc := lineChart{Title: q.title, Format: q.format, From: from, To: to, Step: step, ZeroMin: true}
		var names []string
		for _, m := range []string{"p50", "p90", "p99"} {
			if pts := bySM[q.signal+"/"+m]; len(pts) > 0 {
				lc.Series = append(lc.Series, series{Name: m, Pts: pts})
				names = append(names, m)
			}
		}
		if len(names) == 0 {
			continue
		}
		lc.Lines = c.thresholds(kv.Key, recorded, q.signal, "p99", kv.Seconds)
		b.Quantiles = append(b.Quantiles, chartView{Title: q.title, SVG: lc.svg(), Legend: legend(names)})
	}
	return nil
}

func nanOr(p *float64) float64 {
	if p == nil || !isFinite(*p) {
		return math.NaN()
	}
	return *p
}

// details decodes a signal row's details (empty on anything unreadable).
func details(s string) map[string]any {
	var m map[string]any
	if s != "" && s != "{}" {
		_ = json.Unmarshal([]byte(s), &m)
	}
	return m
}

func detailNum(m map[string]any, k string) (float64, bool) {
	f, ok := m[k].(float64)
	return f, ok && isFinite(f)
}

// ---- Drift ----

type flaggedCell struct {
	Feature, Href, Stat string
	At                  time.Time
}

type featureCount struct {
	Feature        string
	Flagged, Total int
}

type driftBody struct {
	K          *keyView
	Heatmap    template.HTML
	Flagged    []flaggedCell
	Features   []featureCount
	Truncated  int
	Baseline   string
	NoBaseline bool
}

// strength is the evidence of a drift row relative to its thresholds: 1
// is where the decision flags (PSI at psi_threshold, or a p-value at the
// corrected alpha), 2 or more the darkest colour.
func strength(row chsink.KeySignal, m map[string]any) float64 {
	s := 0.0
	if psi, ok := detailNum(m, "psi"); ok {
		thr, ok := detailNum(m, "psi_threshold")
		if !ok || thr <= 0 {
			thr = 0.2
		}
		s = math.Max(s, psi/thr)
	}
	alpha, ok := detailNum(m, "alpha")
	if !ok || alpha <= 0 || alpha >= 1 {
		alpha = 0.01
	}
	if row.PValue != nil && isFinite(*row.PValue) {
		pv := math.Max(*row.PValue, 1e-300)
		s = math.Max(s, math.Log(pv)/math.Log(alpha))
	}
	return s
}

func (c *Console) drift(r *http.Request, p params, d *pageData) error {
	kv, err := c.resolveKey(r, p, "/signals/drift", false)
	if err != nil {
		return err
	}
	if err := c.suggest(r, d, kv.Found); err != nil {
		return err
	}
	b := &driftBody{K: kv}
	d.Body = b
	if kv.None != "" {
		return nil
	}
	rows, err := c.keySignals(r.Context(), kv.Scope, kv.Seconds, chsink.ViewDrift, time.Time{})
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		b.NoBaseline = true
		return nil
	}
	var cols []int64
	for _, row := range rows {
		if t := row.WindowStart.Unix(); len(cols) == 0 || cols[len(cols)-1] != t {
			cols = append(cols, t)
		}
		if b.Baseline == "" {
			b.Baseline = row.Baseline
		}
	}
	if len(cols) > maxHeatCols {
		b.Truncated = len(cols) - maxHeatCols
		cols = cols[len(cols)-maxHeatCols:]
	}
	colOf := map[int64]int{}
	for i, t := range cols {
		colOf[t] = i
	}
	var feats []string
	present := map[string]bool{}
	for _, row := range rows {
		present[row.Signal] = true
	}
	for _, f := range driftFeatures() {
		if present[f] {
			feats = append(feats, f)
		}
	}
	rowOf := map[string]int{}
	for i, f := range feats {
		rowOf[f] = i
	}
	h := heatmap{Rows: feats, Cols: cols, Cells: make([][]heatCell, len(feats)),
		Href: keyHref("/signals/drift/distribution", kv.Key.Tenant, kv.Key.App, kv.Key.Model, kv.Key.Variant,
			"window", strconv.FormatUint(uint64(kv.Seconds), 10)) + "&feature={f}&at={t}"}
	for i := range h.Cells {
		h.Cells[i] = make([]heatCell, len(cols))
	}
	counts := map[string]*featureCount{}
	for _, f := range feats {
		counts[f] = &featureCount{Feature: f}
	}
	for _, row := range rows {
		ci, ok := colOf[row.WindowStart.Unix()]
		ri, ok2 := rowOf[row.Signal]
		if !ok || !ok2 {
			continue
		}
		m := details(row.Details)
		ins, _ := m["insufficient"].(bool)
		cell := heatCell{Has: true, Flagged: row.Decision, Insufficient: ins, Strength: strength(row, m)}
		stat := driftStat(row, m)
		cell.Tip = fmt.Sprintf("%s %s: %s", row.Signal, row.WindowStart.Format("15:04:05"), stat)
		h.Cells[ri][ci] = cell
		fc := counts[row.Signal]
		fc.Total++
		if row.Decision {
			fc.Flagged++
			b.Flagged = append(b.Flagged, flaggedCell{Feature: row.Signal, At: row.WindowStart, Stat: stat, Href: h.cellHref(ri, ci)})
		}
	}
	for _, f := range feats {
		b.Features = append(b.Features, *counts[f])
	}
	sort.SliceStable(b.Flagged, func(i, j int) bool { return b.Flagged[i].At.After(b.Flagged[j].At) })
	if len(b.Flagged) > 50 {
		b.Flagged = b.Flagged[:50]
	}
	b.Heatmap = h.svg()
	return nil
}

func driftStat(row chsink.KeySignal, m map[string]any) string {
	var parts []string
	if ins, _ := m["insufficient"].(bool); ins {
		return "too few events to test"
	}
	for _, k := range []struct{ key, label string }{{"psi", "PSI"}, {"js", "JS"}, {"ks", "KS D"}, {"mmd2", "MMD²"}, {"centroid_cosine", "centroid"}} {
		if v, ok := detailNum(m, k.key); ok {
			parts = append(parts, k.label+" "+strconv.FormatFloat(v, 'g', 3, 64))
		}
	}
	if row.PValue != nil && isFinite(*row.PValue) {
		parts = append(parts, "p "+strconv.FormatFloat(*row.PValue, 'g', 2, 64))
	}
	if row.Decision {
		parts = append(parts, "drifted")
	}
	return strings.Join(parts, ", ")
}

// ---- Distributions compared ----

type distributionBody struct {
	K           *keyView
	Feature     string
	At          time.Time
	Baseline    string
	BaseLabel   string
	SVG         template.HTML
	Stat        string
	Flagged     bool
	Why         string
	BaseN, CurN float64
	Features    []sizeLink
	Back        string
}

func (c *Console) distribution(r *http.Request, p params, d *pageData) error {
	kv, err := c.resolveKey(r, p, "/signals/drift", false)
	if err != nil {
		return err
	}
	b := &distributionBody{K: kv, Feature: p.Feature, At: p.At}
	d.Body = b
	if kv.None != "" {
		return nil
	}
	ctx := r.Context()
	if b.Feature == "" || b.At.IsZero() {
		// The newest flagged cell, else the newest window's latency.
		rows, err := c.keySignals(ctx, kv.Scope, kv.Seconds, chsink.ViewDrift, time.Time{})
		if err != nil {
			return err
		}
		for _, row := range rows {
			if (row.Decision || b.Feature == "" || row.Signal == b.Feature) && (p.Feature == "" || row.Signal == p.Feature) {
				if row.Decision || b.At.IsZero() || row.WindowStart.After(b.At) {
					b.Feature, b.At = row.Signal, row.WindowStart
				}
			}
		}
		if b.Feature == "" {
			b.Why = "No drift was computed for this key in this range (the first block of windows has no baseline yet)."
			return nil
		}
	}
	b.Back = keyHref("/signals/drift", kv.Key.Tenant, kv.Key.App, kv.Key.Model, kv.Key.Variant, "window", strconv.FormatUint(uint64(kv.Seconds), 10))
	for _, f := range driftFeatures() {
		b.Features = append(b.Features, sizeLink{Label: f, Active: f == b.Feature,
			Href: keyHref("/signals/drift/distribution", kv.Key.Tenant, kv.Key.App, kv.Key.Model, kv.Key.Variant,
				"window", strconv.FormatUint(uint64(kv.Seconds), 10), "at", strconv.FormatInt(b.At.Unix(), 10), "feature", f)})
	}
	rows, err := c.keySignals(ctx, kv.Scope, kv.Seconds, chsink.ViewDrift, b.At)
	if err != nil {
		return err
	}
	var row *chsink.KeySignal
	for i := range rows {
		if rows[i].Signal == b.Feature {
			row = &rows[i]
		}
	}
	if row == nil {
		b.Why = "This window has no drift row for " + b.Feature + " (no baseline, or the feature was absent)."
		return nil
	}
	b.Baseline, b.Flagged, b.Stat = row.Baseline, row.Decision, driftStat(*row, details(row.Details))
	k := window.Key{Tenant: kv.Key.Tenant, App: kv.Key.App, Model: kv.Key.Model, Variant: kv.Key.Variant}
	secs := int64(kv.Seconds)
	ws := b.At.Unix()
	cur, err := c.windowPartials(ctx, k, kv.Seconds, ws, ws+secs)
	if err != nil {
		return err
	}
	var base *window.Partial
	switch {
	case strings.HasPrefix(row.Baseline, "rolling:"):
		n, err := strconv.Atoi(strings.TrimPrefix(row.Baseline, "rolling:"))
		if err != nil || n < 1 {
			b.Why = "Unknown baseline " + row.Baseline + "."
			return nil
		}
		// The aggregate stage's rolling baseline: the previous complete
		// block of n windows, blocks aligned to n·size.
		span := int64(n) * secs
		block := ws - ws%span
		base, err = c.windowPartials(ctx, k, kv.Seconds, block-span, block)
		if err != nil {
			return err
		}
		b.BaseLabel = fmt.Sprintf("baseline: the %d windows %s – %s", n, time.Unix(block-span, 0).UTC().Format("15:04:05"),
			time.Unix(block, 0).UTC().Format("15:04:05"))
	case strings.HasPrefix(row.Baseline, "pinned:"):
		base, err = c.pinnedBaseline(ctx, strings.TrimPrefix(row.Baseline, "pinned:"), k)
		if err != nil {
			return err
		}
		b.BaseLabel = "baseline: " + row.Baseline
	default:
		b.Why = "The baseline " + row.Baseline + " is a reference file read by the aggregate stage, not stored in ClickHouse."
		return nil
	}
	if cur == nil || base == nil {
		b.Why = "The stored windows behind this comparison are no longer in llm_windows."
		return nil
	}
	bd, err := featureDistribution(base, b.Feature)
	if err != nil {
		return err
	}
	cd, err := featureDistribution(cur, b.Feature)
	if err != nil {
		return err
	}
	b.BaseN, b.CurN = bd.Total, cd.Total
	numeric := slices.Contains(window.NumericFeatureNames(), b.Feature)
	b.SVG = histPair(compareBars(bd, cd, numeric), fmt.Sprintf("baseline (%s events)", trimNum(bd.Total)),
		fmt.Sprintf("window %s (%s events)", b.At.UTC().Format("15:04:05"), trimNum(cd.Total)))
	return nil
}

// ---- Bias ----

type biasGroup struct {
	Group, Rate, Interval, Diff, Ratio, P string
	N                                     uint64
	Reference, Significant, Insufficient  bool
}

type biasFinding struct {
	Outcome, Attribute string
	Finding            bool
	Insufficient       bool
	MinRatio, P        string
	Reference          string
	Groups             []biasGroup
	Plot               template.HTML
}

type biasBody struct {
	K        *keyView
	At       time.Time
	Windows  []sizeLink
	Findings []biasFinding
	Quiet    []biasFinding
}

func (c *Console) bias(r *http.Request, p params, d *pageData) error {
	kv, err := c.resolveKey(r, p, "/signals/bias", false)
	if err != nil {
		return err
	}
	if err := c.suggest(r, d, kv.Found); err != nil {
		return err
	}
	b := &biasBody{K: kv, At: p.At}
	d.Body = b
	if kv.None != "" {
		return nil
	}
	ctx := r.Context()
	summary, err := c.keySignals(ctx, kv.Scope, kv.Seconds, chsink.ViewBiasSummary, time.Time{})
	if err != nil {
		return err
	}
	found := map[int64]bool{}
	var wins []int64
	for _, s := range summary {
		t := s.WindowStart.Unix()
		if len(wins) == 0 || wins[len(wins)-1] != t {
			wins = append(wins, t)
		}
		if s.Decision {
			found[t] = true
		}
	}
	if b.At.IsZero() {
		for i := len(wins) - 1; i >= 0; i-- {
			if found[wins[i]] {
				b.At = time.Unix(wins[i], 0).UTC()
				break
			}
		}
		if b.At.IsZero() && len(wins) > 0 {
			b.At = time.Unix(wins[len(wins)-1], 0).UTC()
		}
	}
	if len(wins) > 60 {
		wins = wins[len(wins)-60:]
	}
	for _, t := range wins {
		label := time.Unix(t, 0).UTC().Format("15:04:05")
		if found[t] {
			label += " ⚑"
		}
		b.Windows = append(b.Windows, sizeLink{Label: label, Active: t == b.At.Unix(),
			Href: p.href("/signals/bias", "tenant", kv.Key.Tenant, "app", kv.Key.App, "model", kv.Key.Model, "variant", kv.Key.Variant,
				"window", strconv.FormatUint(uint64(kv.Seconds), 10), "at", strconv.FormatInt(t, 10))})
	}
	if b.At.IsZero() {
		return nil
	}
	rows, err := c.keySignals(ctx, kv.Scope, kv.Seconds, chsink.ViewBias, b.At)
	if err != nil {
		return err
	}
	type fk struct{ outcome, attr string }
	byKey := map[fk]*biasFinding{}
	var order []fk
	groupsOf := map[fk]map[string]*biasGroup{}
	var groupOrder = map[fk][]string{}
	for _, row := range rows {
		attr, grp, _ := strings.Cut(row.Group, "=")
		k := fk{row.Signal, attr}
		if byKey[k] == nil {
			byKey[k] = &biasFinding{Outcome: row.Signal, Attribute: attr}
			groupsOf[k] = map[string]*biasGroup{}
			order = append(order, k)
		}
		f := byKey[k]
		m := details(row.Details)
		if row.Metric == "bias" {
			f.Finding = row.Decision
			f.Insufficient, _ = m["insufficient"].(bool)
			f.MinRatio = fmtNum(row.Value)
			f.P = fmtP(row.PValue)
			f.Reference, _ = m["reference_group"].(string)
			continue
		}
		g := groupsOf[k][grp]
		if g == nil {
			g = &biasGroup{Group: grp, Diff: "–", Ratio: "–", P: "–"}
			groupsOf[k][grp] = g
			groupOrder[k] = append(groupOrder[k], grp)
		}
		switch row.Metric {
		case "bias_rate":
			g.N, g.Rate = row.N, fmtPct(row.Value)
			g.Interval = fmt.Sprintf("%s – %s", fmtPct(row.Lo), fmtPct(row.Hi))
			g.Insufficient, _ = m["insufficient"].(bool)
			g.Reference, _ = m["reference"].(bool)
		case "bias_rate_diff":
			g.Diff, g.P, g.Significant = fmtSignedPct(row.Value), fmtP(row.PValue), row.Decision
		case "bias_di_ratio":
			g.Ratio = fmtNum(row.Value)
		}
	}
	rates := map[fk]map[string]chsink.KeySignal{}
	for _, row := range rows {
		if row.Metric == "bias_rate" {
			attr, grp, _ := strings.Cut(row.Group, "=")
			k := fk{row.Signal, attr}
			if rates[k] == nil {
				rates[k] = map[string]chsink.KeySignal{}
			}
			rates[k][grp] = row
		}
	}
	for _, k := range order {
		f := byKey[k]
		var ivs []interval
		for _, name := range groupOrder[k] {
			g := groupsOf[k][name]
			f.Groups = append(f.Groups, *g)
			rr := rates[k][name]
			ivs = append(ivs, interval{Label: name, V: rr.Value, Lo: nanOr(rr.Lo), Hi: nanOr(rr.Hi), Reference: g.Reference,
				Significant: g.Significant, Insufficient: g.Insufficient})
		}
		if f.Finding {
			f.Plot = intervalPlot(ivs)
			b.Findings = append(b.Findings, *f)
		} else {
			b.Quiet = append(b.Quiet, *f)
		}
	}
	return nil
}

func fmtP(p *float64) string {
	if p == nil || !isFinite(*p) {
		return "–"
	}
	if *p < 0.0001 {
		return "<0.0001"
	}
	return strconv.FormatFloat(*p, 'g', 2, 64)
}

func fmtSignedPct(v float64) string {
	if !isFinite(v) {
		return "–"
	}
	return fmt.Sprintf("%+.1f pp", v*100)
}

// ---- A/B ----

// abMetric is one metric of a treatment: the window's fixed-horizon
// test (Win*) and the experiment's sequential test (Seq*: the mSPRT on
// everything since the experiment started, with its always-valid
// interval), which makes the decision.
type abMetric struct {
	Metric, Control, Treatment string
	WinDiff, WinCI, FixedP     string
	SeqDiff, SeqCI, SeqP       string
	Decided                    bool
	Chart                      template.HTML
}

type abTreatment struct {
	Variant, Control string
	At               time.Time
	N, ControlN      string
	Metrics          []abMetric
}

type abBody struct {
	K          *keyView
	Treatments []abTreatment
	Empty      bool
}

func (c *Console) ab(r *http.Request, p params, d *pageData) error {
	kv, err := c.resolveKey(r, p, "/signals/ab", true)
	if err != nil {
		return err
	}
	if err := c.suggest(r, d, kv.Found); err != nil {
		return err
	}
	b := &abBody{K: kv}
	d.Body = b
	if kv.None != "" {
		return nil
	}
	rows, err := c.keySignals(r.Context(), kv.Scope, kv.Seconds, chsink.ViewAB, time.Time{})
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		b.Empty = true
		return nil
	}
	// Per treatment and metric: the rows over time; the table shows the
	// window at p.At (default: the newest).
	type tm struct{ variant, metric string }
	byTM := map[tm][]chsink.KeySignal{}
	var variants []string
	metricsOf := map[string][]string{}
	for _, row := range rows {
		if !slices.Contains(variants, row.Group) {
			variants = append(variants, row.Group)
		}
		k := tm{row.Group, row.Signal}
		if _, ok := byTM[k]; !ok {
			metricsOf[row.Group] = append(metricsOf[row.Group], row.Signal)
		}
		byTM[k] = append(byTM[k], row)
	}
	sort.Strings(variants)
	from, to, step := p.From.Unix(), p.To.Unix(), int64(kv.Seconds)
	for _, v := range variants {
		t := abTreatment{Variant: v}
		ms := metricsOf[v]
		// Latency first (the usual question), then metrics that decided.
		sort.SliceStable(ms, func(i, j int) bool { return ms[i] == "latency_ms" && ms[j] != "latency_ms" })
		charts := 0
		for _, m := range ms {
			hist := byTM[tm{v, m}]
			var at time.Time
			for _, row := range hist {
				if (p.At.IsZero() && row.WindowStart.After(at)) || row.WindowStart.Equal(p.At) {
					at = row.WindowStart
				}
			}
			if at.IsZero() {
				continue
			}
			t.At = at
			am := abMetric{Metric: m, Control: "–", Treatment: "–", WinDiff: "–", WinCI: "–", FixedP: "–", SeqDiff: "–", SeqCI: "–", SeqP: "–"}
			isRate := slices.Contains(window.OutcomeNames(), m)
			format := func(x float64) string {
				if isRate {
					return fmtPct(x)
				}
				return fmtNum(x)
			}
			diff := func(x float64) string {
				if isRate {
					return fmtSignedPct(x)
				}
				return fmt.Sprintf("%+.4g", x)
			}
			ci := func(lo, hi *float64) string {
				if lo == nil || hi == nil || !isFinite(*lo) || !isFinite(*hi) {
					return "–"
				}
				if isRate {
					return fmtSignedPct(*lo) + " – " + fmtSignedPct(*hi)
				}
				return fmt.Sprintf("%.4g – %.4g", *lo, *hi)
			}
			var pts []point
			var marks []point
			for _, row := range hist {
				if row.Metric == "ab_msprt" {
					pt := point{T: row.WindowStart.Unix(), V: row.Value, Lo: nanOr(row.Lo), Hi: nanOr(row.Hi)}
					pts = append(pts, pt)
					if row.Decision {
						marks = append(marks, pt)
					}
				}
				if !row.WindowStart.Equal(at) {
					continue
				}
				mm := details(row.Details)
				switch row.Metric {
				case "ab_welch", "ab_diff":
					for _, kk := range []struct {
						key string
						dst *string
					}{{"control_mean", &am.Control}, {"treatment_mean", &am.Treatment}, {"control_rate", &am.Control}, {"treatment_rate", &am.Treatment}} {
						if x, ok := detailNum(mm, kk.key); ok {
							*kk.dst = format(x)
						}
					}
					am.WinDiff, am.WinCI, am.FixedP = diff(row.Value), ci(row.Lo, row.Hi), fmtP(row.PValue)
					if x, ok := mm["control"].(string); ok {
						t.Control = x
					}
					if n, ok := detailNum(mm, "control_n"); ok {
						t.ControlN = trimNum(n)
					}
					t.N = trimNum(float64(row.N))
				case "ab_msprt":
					am.SeqDiff, am.SeqCI, am.SeqP, am.Decided = diff(row.Value), ci(row.Lo, row.Hi), fmtP(row.PValue), row.Decision
				}
			}
			if len(pts) == 0 {
				// No sequential rows: chart the fixed test's difference.
				for _, row := range hist {
					if row.Metric == "ab_welch" || row.Metric == "ab_diff" {
						pts = append(pts, point{T: row.WindowStart.Unix(), V: row.Value, Lo: nanOr(row.Lo), Hi: nanOr(row.Hi)})
					}
				}
			}
			if charts < 6 && (m == "latency_ms" || len(marks) > 0) && len(pts) > 0 {
				format := "num"
				if isRate {
					format = "pct"
				}
				lc := lineChart{Title: m + ": treatment − control", Format: format, From: from, To: to, Step: step,
					Series: []series{{Name: "difference", Pts: pts}}, Lines: []hline{{V: 0, Label: "no difference"}}, Marks: marks, ClipBands: true}
				am.Chart = lc.svg()
				charts++
			}
			t.Metrics = append(t.Metrics, am)
		}
		b.Treatments = append(b.Treatments, t)
	}
	return nil
}

// ---- Alerts ----

type alertEventView struct {
	chsink.AlertEvent
	CallsHref string
}

type ruleView struct {
	Name, Signal, Scope, Condition, Severity, For, Actions string
}

type alertsBody struct {
	Series  []alertView
	History []alertEventView
	Actions []chsink.AlertEvent
	Rules   []ruleView
	Older   string
}

func (c *Console) alerts(r *http.Request, p params, d *pageData) error {
	ctx := r.Context()
	b := &alertsBody{}
	d.Body = b
	var series []chsink.AlertSeriesState
	var hist []chsink.AlertEvent
	if err := parallel(
		func() error { return c.suggest(r, d, nil) },
		func() (err error) { series, err = c.alertSeries(ctx, p.scope(), false); return err },
		func() (err error) { hist, err = c.alertEvents(ctx, p.scope(), false, p.Rule, p.Before); return err },
		func() (err error) { b.Actions, err = c.alertEvents(ctx, p.scope(), true, p.Rule, p.Before); return err },
	); err != nil {
		return err
	}
	for _, a := range series {
		if p.Rule != "" && a.Rule != p.Rule {
			continue
		}
		b.Series = append(b.Series, alertView{a, callsHref(a.Tenant, a.App, a.Model, a.Variant, a.Group, a.WindowStart, a.WindowSeconds),
			keyHref("/signals", a.Tenant, a.App, a.Model, a.Variant)})
	}
	for _, e := range hist {
		v := alertEventView{AlertEvent: e}
		if e.WindowSeconds > 0 {
			v.CallsHref = callsHref(e.Tenant, e.App, e.Model, e.Variant, e.Group, e.WindowStart, e.WindowSeconds)
		}
		b.History = append(b.History, v)
	}
	minSeq := uint64(0)
	if len(hist) == listRows || len(b.Actions) == listRows {
		for _, e := range append(slices.Clone(hist), b.Actions...) {
			if minSeq == 0 || e.Seq < minSeq {
				minSeq = e.Seq
			}
		}
		b.Older = p.href("/alerts", "rule", p.Rule, "before", strconv.FormatUint(minSeq, 10))
	}
	for _, r := range c.rules {
		rv := ruleView{Name: r.Name, Signal: r.Signal, Severity: r.Severity, Actions: strings.Join(r.Actions, ", ")}
		var scope []string
		for _, kv := range [][2]string{{"tenant", r.Match.Tenant}, {"app", r.Match.App}, {"model", r.Match.Model},
			{"variant", r.Match.Variant}, {"group", r.Match.Group}} {
			if kv[1] != "" {
				scope = append(scope, kv[0]+"="+kv[1])
			}
		}
		rv.Scope = strings.Join(scope, " ")
		if r.Condition != "" {
			rv.Condition = r.Condition
		} else if r.Threshold != nil {
			rv.Condition = r.Operator + " " + trimNum(*r.Threshold)
		}
		rv.For = "1"
		if r.For != nil {
			rv.For = strconv.Itoa(*r.For)
		}
		if r.MinSamples > 0 {
			rv.For += fmt.Sprintf(" (n ≥ %d)", r.MinSamples)
		}
		b.Rules = append(b.Rules, rv)
	}
	return nil
}

// ---- Jobs and evaluations ----

type jobsBody struct {
	Jobs  []chsink.JobAttempt
	Runs  []chsink.EvalRun
	Older string
}

func (c *Console) jobs(r *http.Request, p params, d *pageData) error {
	ctx := r.Context()
	b := &jobsBody{}
	d.Body = b
	if err := parallel(
		func() error { return c.suggest(r, d, nil) },
		func() (err error) { b.Jobs, err = c.jobAttempts(ctx, p.scope(), p.Before); return err },
		func() (err error) { b.Runs, err = c.evalRuns(ctx, p.scope()); return err },
	); err != nil {
		return err
	}
	if len(b.Jobs) == listRows {
		b.Older = p.href("/jobs", "before", strconv.FormatUint(b.Jobs[len(b.Jobs)-1].Seq, 10))
	}
	return nil
}
