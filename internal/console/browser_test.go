package console_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/sightline-dev/sightline/internal/testenv"
	"github.com/sightline-dev/sightline/sdk"
)

// EnvTestOut names a directory for the browser test's screenshots
// (default: the test's temporary directory).
const EnvTestOut = "SIGHTLINE_TEST_OUT"

// findChromium locates Debian's chromium (make test installs it with
// deploy/scripts/ensure-deps.sh). Like ClickHouse, it is a required part
// of the suite, not an optional one.
func findChromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is required by the Console's browser test: run `make test` (deploy/scripts/ensure-deps.sh installs it) or apt-get install chromium")
	return ""
}

// browser is a headless Chromium with its console errors collected.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
	out    string
	// expectStatus is the status code the next page answers with on
	// purpose ("" for 200).
	expectStatus string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(findChromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		// Without these Chromium keeps calling home (updates, sync, field
		// trials), which a closed network answers with errors and delays.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{ctx: ctx, out: os.Getenv(EnvTestOut)}
	if b.out == "" {
		b.out = t.TempDir()
	}
	testenv.Must(t, os.MkdirAll(b.out, 0o755), "screenshot directory")
	// The first run starts the browser; it lives as long as ctx.
	testenv.Must(t, chromedp.Do(ctx), "start chromium")
	testenv.Must(t, chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = "exception: " + e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				msg = "console." + string(e.Type)
				for _, a := range e.Args {
					msg += " " + string(a.Value) + a.Description
				}
			}
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError {
				msg = "log: " + e.Entry.Text + " " + e.Entry.URL
			}
		}
		if msg != "" {
			b.mu.Lock()
			b.errors = append(b.errors, msg)
			b.mu.Unlock()
		}
	}), "listen to chromium")
	return b
}

// run runs actions with a timeout.
func (b *browser) run(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// click clicks the first element matching sel and waits for the page it
// leads to (its path starts with want).
func (b *browser) click(t *testing.T, sel, want string) {
	t.Helper()
	before := eval[string](t, b, "location.href")
	b.run(t, "click "+sel, chromedp.Click(chromedp.CSS(sel)))
	testenv.Eventually(t, 20*time.Second, "the page behind "+sel, func() (bool, string) {
		loc := eval[string](t, b, "location.href")
		u, err := url.Parse(loc)
		return err == nil && loc != before && strings.HasPrefix(u.Path, want) && eval[string](t, b, "document.readyState") == "complete", loc
	})
}

// page opens a URL, checks it loaded without a console error, and saves
// a screenshot that must not be blank.
func (b *browser) page(t *testing.T, name, u string) {
	t.Helper()
	b.run(t, "open "+u, chromedp.Navigate(u), chromedp.WaitReady(chromedp.CSS("main")))
	b.screenshot(t, name)
	b.noErrors(t, u)
}

func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	testenv.Must(t, err, "screenshot "+name)
	path := filepath.Join(b.out, name+".png")
	testenv.Must(t, os.WriteFile(path, shot, 0o644), "save screenshot")
	if err := notBlank(shot); err != nil {
		t.Fatalf("screenshot %s is blank: %v", path, err)
	}
}

func (b *browser) noErrors(t *testing.T, where string) {
	t.Helper()
	b.mu.Lock()
	var errs []string
	for _, e := range b.errors {
		// A page answered 400 on purpose (a refused parameter) is logged
		// by Chromium as a failed load of the document itself; that is the
		// answer under test, not an error of the page.
		if b.expectStatus != "" && strings.Contains(e, "status of "+b.expectStatus) && strings.HasSuffix(e, " "+where) {
			continue
		}
		errs = append(errs, e)
	}
	b.errors = nil
	b.mu.Unlock()
	if len(errs) > 0 {
		t.Fatalf("JavaScript console errors on %s: %s", where, strings.Join(errs, "; "))
	}
}

// notBlank checks a screenshot shows something: more than a handful of
// colours, and a good share of pixels unlike the background.
func notBlank(b []byte) error {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return err
	}
	r := img.Bounds()
	counts := map[[3]uint32]int{}
	total := 0
	for y := r.Min.Y; y < r.Max.Y; y += 3 {
		for x := r.Min.X; x < r.Max.X; x += 3 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			counts[[3]uint32{cr >> 8, cg >> 8, cb >> 8}]++
			total++
		}
	}
	most := 0
	for _, n := range counts {
		most = max(most, n)
	}
	if len(counts) < 16 || float64(total-most) < 0.03*float64(total) {
		return fmt.Errorf("%d colours, %.1f%% of pixels differ from the background", len(counts), 100*float64(total-most)/float64(total))
	}
	return nil
}

func (b *browser) count(t *testing.T, sel string) int {
	t.Helper()
	return eval[int](t, b, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
}

func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	return eval[string](t, b, fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).map(e => e.textContent.trim()).join("\n")`, sel))
}

// The Console in a real browser against `up` filled by the scenarios:
// from the firing alert to the calls of its window to a toxic call's
// highlighted terms; the drift heatmap, bias and A/B pages show what the
// scenarios injected; live updates reach an open page; no page logs a
// JavaScript error; every page's screenshot is saved and not blank.
func TestConsoleInBrowser(t *testing.T) {
	s := startSystem(t)
	s.fill(t)
	b := newBrowser(t)
	base := s.base
	t.Logf("screenshots in %s", b.out)

	t.Run("overview shows the firing alert", func(t *testing.T) {
		b.page(t, "overview", base+"/")
		if fire := b.text(t, "tr.fire"); !strings.Contains(fire, "toxic-support") || !strings.Contains(fire, "tox / support-bot") {
			t.Fatalf("firing alerts on the overview: %q", fire)
		}
		if n := b.count(t, "svg.chart path.ln"); n == 0 {
			t.Fatal("the overview draws no chart line")
		}
	})

	t.Run("a click on the alert reaches the calls of its window", func(t *testing.T) {
		b.click(t, "tr.fire a.calls-link", "/calls")
		loc := eval[string](t, b, "location.href")
		u, err := url.Parse(loc)
		testenv.Must(t, err, "location")
		q := u.Query()
		from, err1 := time.Parse(time.RFC3339, q.Get("from"))
		to, err2 := time.Parse(time.RFC3339, q.Get("to"))
		if u.Path != "/calls" || q.Get("tenant") != "tox" || q.Get("app") != "support-bot" || err1 != nil || err2 != nil || to.Sub(from) != 10*time.Second {
			t.Fatalf("the alert's link went to %s", loc)
		}
		rows := b.count(t, "tr.call")
		times := b.text(t, "tr.call td:first-child")
		if rows < 20 {
			t.Fatalf("the window's calls page lists %d calls", rows)
		}
		for _, ts := range strings.Split(times, "\n") {
			at, err := time.Parse("2006-01-02 15:04:05", strings.TrimSpace(ts))
			if err != nil || at.Before(from) || !at.Before(to) {
				t.Fatalf("call at %q outside the alert's window %s–%s", ts, from, to)
			}
		}
		b.screenshot(t, "calls_of_alert_window")
		b.noErrors(t, loc)
	})

	t.Run("a toxic call's detail highlights its toxic terms", func(t *testing.T) {
		b.page(t, "calls", base+"/calls?tenant=tox&sort=toxicity")
		b.click(t, "tr.call a.detail", "/calls/")
		b.run(t, "the completion", chromedp.WaitVisible(chromedp.CSS("p.completion")))
		marks := b.text(t, "p.completion mark.tox")
		terms := b.text(t, "span.tox-term")
		if marks == "" || terms == "" {
			t.Fatalf("no toxic term highlighted (marks %q, evidence %q) in %s", marks, terms, eval[string](t, b, `document.querySelector("main").innerHTML.slice(0, 4000)`))
		}
		evidence := map[string]bool{}
		for _, term := range strings.Split(terms, "\n") {
			evidence[strings.ToLower(term)] = true
		}
		for _, m := range strings.Split(marks, "\n") {
			if !evidence[strings.ToLower(m)] {
				t.Fatalf("highlighted %q, which is not among the evidence %q", m, terms)
			}
		}
		b.screenshot(t, "call_detail")
		b.noErrors(t, "call detail")
	})

	t.Run("the drift heatmap marks the drifted feature, not the steady app", func(t *testing.T) {
		b.page(t, "drift_search_rag", base+"/signals/drift?tenant=drift&app=search-rag&model=gpt-4o&variant=control&window=10")
		drifted := b.count(t, `a.flag[data-feature="latency_ms"]`)
		b.page(t, "drift_steady", base+"/signals/drift?tenant=drift&app=code-assistant&model=gpt-4o-mini&variant=control&window=10")
		steady := b.count(t, `a.flag[data-feature="latency_ms"]`)
		allSteady := b.count(t, `a.flag`)
		t.Logf("latency_ms flagged in %d search-rag windows, %d code-assistant windows (%d flags of any feature)", drifted, steady, allSteady)
		// The rolling baseline compares blocks of three windows: the first
		// shifted block (three windows) differs from the one before it.
		if drifted < 2 || steady != 0 {
			t.Fatalf("latency drift marked in %d windows of the drifting app and %d of the steady one", drifted, steady)
		}
		b.run(t, "back to search-rag", chromedp.Navigate(base+"/signals/drift?tenant=drift&app=search-rag&model=gpt-4o&variant=control&window=10"),
			chromedp.WaitReady(chromedp.CSS("svg.heat")))
		b.click(t, `a.flag[data-feature="latency_ms"] rect`, "/signals/drift/distribution")
		b.run(t, "the histograms", chromedp.WaitVisible(chromedp.CSS("svg.hist")))
		if n := b.count(t, "svg.hist rect.b0") + b.count(t, "svg.hist rect.b1"); n < 4 {
			t.Fatalf("the distributions page draws %d bars", n)
		}
		b.screenshot(t, "drift_distributions")
		b.noErrors(t, "distributions")
	})

	t.Run("the bias page shows the locale disparity", func(t *testing.T) {
		b.page(t, "bias", base+"/signals/bias?tenant=bias&window=60")
		findings := b.text(t, "section.finding h3")
		sig := b.text(t, "section.finding tr.sig td:first-child")
		if !strings.Contains(findings, "refusal by user.locale") || !strings.Contains(sig, "hi-IN") {
			t.Fatalf("bias findings %q, significant groups %q", findings, sig)
		}
		if strings.Contains(findings, "user.tier") {
			t.Fatalf("a tier disparity was reported: %q", findings)
		}
	})

	t.Run("the A/B page shows the latency difference", func(t *testing.T) {
		b.page(t, "ab", base+"/signals/ab?tenant=ab&app=support-bot&model=gpt-4o-mini&window=10")
		diff := strings.TrimSpace(b.text(t, `tr[data-metric="latency_ms"] td.diff`))
		decided := b.count(t, `tr.sig[data-metric="latency_ms"]`)
		if !strings.HasPrefix(diff, "+") || decided != 1 {
			t.Fatalf("latency difference %q, decided %d", diff, decided)
		}
	})

	t.Run("the other pages", func(t *testing.T) {
		b.page(t, "signals", base+"/signals?tenant=tox&app=support-bot&window=10")
		if n := b.count(t, "line.thr"); n == 0 {
			t.Fatal("the toxicity chart does not draw the alert threshold")
		}
		b.page(t, "alerts", base+"/alerts")
		if n := b.count(t, "span.state.firing"); n == 0 {
			t.Fatal("the alerts page shows no firing series")
		}
		b.page(t, "jobs", base+"/jobs")
		if n := b.count(t, "table.jobs tr"); n < 2 {
			t.Fatal("the jobs page lists no job request")
		}
		b.expectStatus = "400"
		b.page(t, "bad_input", base+"/calls?toxicity=lots")
		b.expectStatus = ""
		if msg := b.text(t, "p.error"); !strings.Contains(msg, "toxicity") {
			t.Fatalf("a bad filter shows %q", msg)
		}
	})

	t.Run("an open page shows a new call within 5 s", func(t *testing.T) {
		b.page(t, "live_before", base+"/calls?tenant=live")
		if n := b.count(t, "tr.call"); n != 0 {
			t.Fatalf("%d calls of tenant live before any was sent", n)
		}
		c, err := sdk.NewClient(sdk.App("support-bot"), sdk.Tenant("live"), sdk.Brokers(s.brokers...))
		testenv.Must(t, err, "client")
		call := sdk.Call{Model: "gpt-4o-mini", Start: time.Now(), Duration: 300 * time.Millisecond,
			Prompt: []sdk.Message{{Role: "user", Content: "hello"}}, Completion: []sdk.Message{{Role: "assistant", Content: "hi"}}}
		testenv.Must(t, c.RecordWait(context.Background(), &call), "record")
		testenv.Must(t, c.Close(context.Background()), "flush")
		var stored time.Time
		testenv.Eventually(t, 30*time.Second, "the call in ClickHouse", func() (bool, string) {
			var n uint64
			testenv.Must(t, s.conn.QueryRow(context.Background(), `SELECT count() FROM llm_events WHERE tenant = 'live'`).Scan(&n), "count")
			stored = time.Now()
			return n > 0, fmt.Sprint(n)
		})
		deadline := stored.Add(5 * time.Second)
		for b.count(t, "tr.call") == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the open calls page did not show the new call within 5 s of its storage")
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("the open page showed the new call %s after it was stored", time.Since(stored).Round(10*time.Millisecond))
		b.screenshot(t, "live_after")
		b.noErrors(t, "live calls page")
	})

	t.Run("every page is at most 200 KB with its CSS and JavaScript", func(t *testing.T) {
		assets := 0
		for _, a := range []string{"/assets/console.css", "/assets/console.js"} {
			assets += len(get(t, base+a))
		}
		for _, p := range []string{"/", "/calls", "/signals?tenant=tox", "/signals/drift?tenant=drift&app=search-rag",
			"/signals/bias?tenant=bias&window=60", "/signals/ab?tenant=ab", "/alerts", "/jobs"} {
			if n := len(get(t, base+p)) + assets; n > 200<<10 {
				t.Errorf("%s: %d bytes with CSS and JS", p, n)
			}
		}
	})
}

func get(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	testenv.Must(t, err, u)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s", u, resp.Status)
	}
	return b
}
