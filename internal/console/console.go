package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sightline-dev/sightline/internal/auth"
	"github.com/sightline-dev/sightline/processors/alert"
	"github.com/sightline-dev/sightline/processors/window"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options wire a Console.
type Options struct {
	// Conn is the ClickHouse the Console reads. Required.
	Conn driver.Conn
	// Config is the console section (zero values take the defaults).
	Config Config
	// ListenAddr is the server's listening address; the default
	// ContentGate allows content only when it is a loopback address.
	ListenAddr string
	// Gate replaces the default content gate: KeyGate when Guard checks
	// keys, else LoopbackOnly{ListenAddr}.
	Gate ContentGate
	// Guard lets requests in (every page but /assets/ needs a read or
	// admin key when it checks keys, and reads only the key's tenant);
	// nil: auth.Off(), every request anonymous.
	Guard *auth.Guard
	// Limit, when set, wraps the pages that read ClickHouse (not /live,
	// which reads through the shared cache, nor /assets/): the server's
	// bound on concurrent expensive reads.
	Limit func(http.Handler) http.Handler
	// Rules are the configured alert rules: their thresholds are drawn on
	// the rate charts of the keys they match.
	Rules []alert.Rule
	// Window supplies the score thresholds that mark a call as flagged
	// (default window.DefaultConfig()).
	Window *window.Config
	// Registerer takes the Console's metrics (nil: not exported).
	Registerer prometheus.Registerer
	// Logger receives read failures (nil: discarded).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Console serves the web UI. It is an http.Handler for the paths /,
// /calls, /calls/{id}, /signals..., /alerts, /jobs, /live and /assets/.
type Console struct {
	conn    driver.Conn
	cfg     Config
	gate    ContentGate
	rules   []alert.Rule
	win     window.Config
	log     *slog.Logger
	now     func() time.Time
	cache   *cache
	mux     *http.ServeMux
	handler http.Handler // mux behind the guard and the read limit
	pages   map[string]*template.Template
	assets  map[string]asset
	version string // asset fingerprint, busts caches across upgrades

	reads    *prometheus.CounterVec
	requests *prometheus.CounterVec
	audits   *prometheus.CounterVec
}

type asset struct {
	body  []byte
	ctype string
}

// pageNames are the page templates (templates/<name>.html).
var pageNames = []string{"overview", "calls", "call", "signals", "drift", "distribution", "bias", "ab", "alerts", "jobs", "message"}

// New builds a Console.
func New(o Options) (*Console, error) {
	if o.Conn == nil {
		return nil, errors.New("cannot start the console: no ClickHouse connection")
	}
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	c := &Console{conn: o.Conn, cfg: o.Config.withDefaults(), gate: o.Gate, rules: o.Rules, log: o.Logger, now: o.Now}
	guard := o.Guard
	if guard == nil {
		guard = auth.Off()
	}
	if c.gate == nil {
		c.gate = LoopbackOnly{ListenAddr: o.ListenAddr}
		if guard.Enabled() {
			c.gate = KeyGate{Fallback: c.gate}
		}
	}
	c.win = window.DefaultConfig()
	if o.Window != nil {
		c.win = *o.Window
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.cache = newCache(c.cfg.CacheTTL, c.cfg.CacheEntries, c.now)
	c.reads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sightline_console_reads_total",
		Help: "Console reads by query and result: hit (shared from the cache), miss (read from ClickHouse), error."}, []string{"query", "result"})
	c.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sightline_console_requests_total",
		Help: "Console requests by page and status code."}, []string{"page", "code"})
	c.audits = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sightline_console_content_audits_total",
		Help: "Reads of a call's content recorded in llm_audit, by result (error: the content was not shown)."}, []string{"result"})
	c.audits.WithLabelValues("ok")
	c.audits.WithLabelValues("error")
	if o.Registerer != nil {
		for _, m := range []prometheus.Collector{c.reads, c.requests, c.audits} {
			if err := o.Registerer.Register(m); err != nil {
				return nil, fmt.Errorf("cannot register console metrics: %w", err)
			}
		}
	}
	if err := c.loadAssets(); err != nil {
		return nil, err
	}
	if err := c.loadTemplates(); err != nil {
		return nil, err
	}
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", c.page("overview", c.overview))
	m.HandleFunc("GET /calls", c.page("calls", c.calls))
	m.HandleFunc("GET /calls/{id}", c.page("call", c.call))
	m.HandleFunc("GET /signals", c.page("signals", c.signals))
	m.HandleFunc("GET /signals/drift", c.page("drift", c.drift))
	m.HandleFunc("GET /signals/drift/distribution", c.page("distribution", c.distribution))
	m.HandleFunc("GET /signals/bias", c.page("bias", c.bias))
	m.HandleFunc("GET /signals/ab", c.page("ab", c.ab))
	m.HandleFunc("GET /alerts", c.page("alerts", c.alerts))
	m.HandleFunc("GET /jobs", c.page("jobs", c.jobs))
	m.HandleFunc("GET /live", c.live)
	m.HandleFunc("GET /assets/{file}", c.asset)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			c.message(w, r, http.StatusMethodNotAllowed, "Method not allowed", "The Console only answers GET requests.")
			return
		}
		c.message(w, r, http.StatusNotFound, "Not found", "There is no Console page at "+trimForMessage(r.URL.Path)+".")
	})
	c.mux = m
	var pages http.Handler = m
	if o.Limit != nil {
		pages = o.Limit(m)
	}
	guarded := guard.Require(auth.SurfaceConsole, auth.RoleRead, true, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/live" {
			m.ServeHTTP(w, r)
			return
		}
		pages.ServeHTTP(w, r)
	}))
	c.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/assets/") {
			m.ServeHTTP(w, r) // style and script: no data
			return
		}
		guarded.ServeHTTP(w, r)
	})
	return c, nil
}

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Pages hold personal data (call content) and per-tenant figures: no
	// cache keeps them, no other site frames them, and links leak no ids.
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	c.handler.ServeHTTP(w, r)
}

func (c *Console) loadAssets() error {
	c.assets = map[string]asset{}
	sum := sha256.New()
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		ctype := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
			".svg": "image/svg+xml"}[path.Ext(p)]
		c.assets[path.Base(p)] = asset{body: b, ctype: ctype}
		sum.Write(b)
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot load the console's assets: %w", err)
	}
	c.version = hex.EncodeToString(sum.Sum(nil))[:10]
	return nil
}

func (c *Console) loadTemplates() error {
	funcs := template.FuncMap{
		"asset": func(name string) string { return "/assets/" + name + "?v=" + c.version },
		"when":  fmtTime,
		"num":   fmtNum,
		"pct":   fmtPct,
		"ms":    fmtMS,
		"usd":   fmtUSD,
		"score": fmtScore,
		"dur":   fmtSeconds,
		"deref8": func(p *uint8) uint8 {
			if p == nil {
				return 0
			}
			return *p
		},
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return fmt.Errorf("cannot parse the console's layout: %w", err)
	}
	c.pages = map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("cannot parse the console's %s page: %w", name, err)
		}
		c.pages[name] = t
	}
	return nil
}

// pageData is what every page template gets.
type pageData struct {
	Title   string
	Nav     string
	P       params
	Form    formView
	Error   string
	Notices []string
	Refresh int64 // ms between live checks; 0 turns live refresh off
	Body    any
}

// handler builds a page's body; an error of type badParam is the
// visitor's, any other one ClickHouse's.
type handler func(r *http.Request, p params, d *pageData) error

// page wraps a handler: parameters are validated first (a bad one is a
// message on the page, 400), reads that fail answer 503 with the reason.
func (c *Console) page(name string, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d := &pageData{Nav: navOf(name), Refresh: c.cfg.RefreshInterval.Milliseconds()}
		d.Form = newForm(name, r.URL.Query())
		p, err := parseParams(name, r.URL.Query(), c.now(), c.cfg.PageSize)
		if err == nil {
			// The key decides the tenant: a key of one tenant reads
			// that tenant, and naming another is refused.
			var t string
			if t, err = principal(r).ReadTenant(p.Tenant); err != nil {
				err = wrongTenant{err.Error()}
			}
			p.Tenant = t
		}
		d.P = p
		if err == nil {
			ctx, cancel := context.WithTimeout(r.Context(), c.cfg.QueryTimeout)
			err = h(r.WithContext(ctx), p, d)
			cancel()
		}
		status := http.StatusOK
		var bp badParam
		var refused contentRefused
		var wt wrongTenant
		switch {
		case errors.As(err, &wt):
			status, d.Error, d.Body, d.Refresh = http.StatusForbidden, wt.msg, nil, 0
		case errors.As(err, &bp):
			status, d.Error, d.Body, d.Refresh = http.StatusBadRequest, bp.msg, nil, 0
		case errors.As(err, &refused):
			status, d.Error, d.Refresh = http.StatusForbidden, refused.msg, 0
		case errors.Is(err, errNotFound):
			status, d.Error, d.Body, d.Refresh = http.StatusNotFound, "No such call is stored (or it is older than the data kept).", nil, 0
		case err != nil:
			c.log.Warn("console read failed", "page", name, "err", err)
			status, d.Error, d.Body = http.StatusServiceUnavailable, "Cannot read from ClickHouse: "+err.Error(), nil
		}
		if d.Title == "" {
			d.Title = titles[name]
		}
		c.render(w, status, name, d)
	}
}

var errNotFound = errors.New("not found")

// contentRefused: the ContentGate refused content; the page still shows
// what is not content.
type contentRefused struct{ msg string }

func (e contentRefused) Error() string { return e.msg }

// wrongTenant: the page names a tenant the request's key is not for.
type wrongTenant struct{ msg string }

func (e wrongTenant) Error() string { return e.msg }

var titles = map[string]string{"overview": "Overview", "calls": "Calls", "call": "Call", "signals": "Signals: rates and quantiles",
	"drift": "Signals: drift", "distribution": "Signals: distributions compared", "bias": "Signals: bias", "ab": "Signals: A/B",
	"alerts": "Alerts", "jobs": "Jobs and evaluations"}

func navOf(page string) string {
	switch page {
	case "call":
		return "calls"
	case "drift", "distribution", "bias", "ab":
		return "signals"
	}
	return page
}

func (c *Console) render(w http.ResponseWriter, status int, name string, d *pageData) {
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout.html", d); err != nil {
		c.log.Error("console page failed to render", "page", name, "err", err)
		c.requests.WithLabelValues(name, "500").Inc()
		http.Error(w, "cannot render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
	c.requests.WithLabelValues(name, fmt.Sprint(status)).Inc()
}

// message renders a page that only says something (404, 405).
func (c *Console) message(w http.ResponseWriter, r *http.Request, status int, title, text string) {
	d := &pageData{Title: title, Error: text, Form: newForm("message", nil)}
	c.render(w, status, "message", d)
}

func (c *Console) asset(w http.ResponseWriter, r *http.Request) {
	a, ok := c.assets[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", a.ctype)
	// Assets hold no data; their URLs carry the fingerprint.
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Write(a.body)
}

// live answers GET /live with what changed (a stamp of the newest calls,
// windows, alert rows, jobs and evaluation runs). Every open page asks
// every refresh interval; the stamp is one shared read per cache TTL, so
// the tabs cost one query, not one each.
func (c *Console) live(w http.ResponseWriter, r *http.Request) {
	stamp, err := c.liveStamp(r.Context(), onlyTenant(r))
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"stamp": stamp, "refresh_ms": c.cfg.RefreshInterval.Milliseconds()})
}

// read runs a read through the shared cache; key must name the query and
// every argument that shapes its result.
func read[T any](ctx context.Context, c *Console, query string, key string, fetch func(context.Context) (T, error)) (T, error) {
	v, hit, err := c.cache.get(ctx, query+"|"+key, c.cfg.QueryTimeout, func(ctx context.Context) (any, error) { return fetch(ctx) })
	switch {
	case err != nil:
		c.reads.WithLabelValues(query, "error").Inc()
		var zero T
		return zero, err
	case hit:
		c.reads.WithLabelValues(query, "hit").Inc()
	default:
		c.reads.WithLabelValues(query, "miss").Inc()
	}
	return v.(T), nil
}

// formView is the filter form: the values as given (so a refused value
// can be corrected) and which parts the page shows.
type formView struct {
	Action                      string
	Tenant, App, Model, Variant string
	Env, Range, From, To        string
	Window                      string
	Calls                       bool
	ShowWindow                  bool
	Hidden                      map[string]string
	Values                      map[string]string
	Ranges                      []string
	Show                        bool
	// Suggestions from the keys of the last week.
	Tenants, Apps, Models, Variants []string
}

// urlValues builds a query from key, value pairs, leaving out empty
// values.
func urlValues(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	return v
}

func newForm(page string, v map[string][]string) formView {
	get := func(k string) string {
		if vs := v[k]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	f := formView{Tenant: get("tenant"), App: get("app"), Model: get("model"), Variant: get("variant"), Env: get("env"),
		Range: get("range"), From: get("from"), To: get("to"), Window: get("window"), Values: map[string]string{},
		Hidden: map[string]string{}, Show: page != "call" && page != "message"}
	if f.Range == "" && f.From == "" && f.To == "" {
		f.Range = defaultRange
	}
	if f.From != "" || f.To != "" {
		f.Range = "custom"
	}
	for _, r := range ranges {
		f.Ranges = append(f.Ranges, r.name)
	}
	f.Action = map[string]string{"overview": "/", "calls": "/calls", "signals": "/signals", "drift": "/signals/drift",
		"distribution": "/signals/drift/distribution", "bias": "/signals/bias", "ab": "/signals/ab", "alerts": "/alerts",
		"jobs": "/jobs"}[page]
	switch page {
	case "calls":
		f.Calls = true
		for _, k := range []string{"toxicity", "hallucination", "injection", "refusal", "error", "pii", "template",
			"template_version", "user", "conversation", "segment", "sort", "order", "limit"} {
			f.Values[k] = get(k)
		}
	case "signals", "drift", "bias", "ab":
		f.ShowWindow = true
	case "distribution":
		f.ShowWindow = true
		f.Hidden["at"], f.Hidden["feature"] = get("at"), get("feature")
	case "alerts":
		f.Hidden["rule"] = get("rule")
	}
	for k, val := range f.Hidden {
		if val == "" {
			delete(f.Hidden, k)
		}
	}
	return f
}

// Formatting for templates.

func fmtTime(t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func fmtSeconds(s uint32) string {
	d := time.Duration(s) * time.Second
	switch {
	case s == 0:
		return "–"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", s)
}

func deref[T float32 | float64](p *T) (float64, bool) {
	if p == nil {
		return 0, false
	}
	return float64(*p), true
}

func fmtNum(v any) string {
	f, ok := toFloat(v)
	if !ok {
		return "–"
	}
	return trimNum(f)
}

func fmtPct(v any) string {
	f, ok := toFloat(v)
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", f*100)
}

func fmtMS(v any) string {
	f, ok := toFloat(v)
	if !ok {
		return "–"
	}
	if f >= 10000 {
		return fmt.Sprintf("%.1f s", f/1000)
	}
	return fmt.Sprintf("%.0f ms", f)
}

func fmtUSD(v any) string {
	f, ok := toFloat(v)
	if !ok {
		return "–"
	}
	if f != 0 && f < 0.01 {
		return fmt.Sprintf("$%.5f", f)
	}
	return fmt.Sprintf("$%.2f", f)
}

func fmtScore(v any) string {
	f, ok := toFloat(v)
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.2f", f)
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, isFinite(x)
	case float32:
		return float64(x), isFinite(float64(x))
	case *float64:
		f, ok := deref(x)
		return f, ok && isFinite(f)
	case *float32:
		f, ok := deref(x)
		return f, ok && isFinite(f)
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	}
	return 0, false
}

func trimNum(f float64) string {
	a := abs(f)
	switch {
	case a == 0:
		return "0"
	case a >= 1e6:
		return fmt.Sprintf("%.2fM", f/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.1fk", f/1e3)
	case a >= 100:
		return fmt.Sprintf("%.0f", f)
	case a >= 1:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", f), "0"), ".")
	case a >= 0.001:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.4f", f), "0"), ".")
	}
	// Two significant digits without an exponent (costs per call).
	return strings.TrimRight(strconv.FormatFloat(f, 'f', int(-math.Floor(math.Log10(a)))+1, 64), "0")
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// Handler is New for wiring: nil (no Console) when o.Config.Enabled is
// false.
func Handler(o Options) (http.Handler, error) {
	if !o.Config.Enabled {
		return nil, nil
	}
	c, err := New(o)
	if err != nil {
		return nil, err
	}
	return c, nil
}
