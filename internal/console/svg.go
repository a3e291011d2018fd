package console

import (
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// Charts are SVG drawn here, compact on purpose (a page stays far below
// 200 KB with a dozen charts): coordinates with one decimal, one path per
// series, values recovered by the script from the axes' data attributes
// for hover instead of repeated per point.

const (
	chartW, chartH                 = 560, 170
	padL, padR, padT, padB float64 = 52, 10, 10, 22
)

func isFinite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// point is one value at a time; Lo and Hi (NaN when absent) draw a band.
type point struct {
	T      int64
	V      float64
	Lo, Hi float64
}

type series struct {
	Name string
	Pts  []point
}

type hline struct {
	V     float64
	Label string
}

// lineChart is a time chart of one or more series with optional bands,
// horizontal lines (alert thresholds, zero) and marked points (decisions).
type lineChart struct {
	Title    string
	Format   string // num, pct, ms, usd: how the script prints hovered values
	From, To int64
	Step     int64 // the expected spacing: a longer gap breaks the line
	Series   []series
	Lines    []hline
	Marks    []point // drawn as dots (e.g. windows where a test decided)
	ZeroMin  bool    // the y axis starts at 0 (counts, rates)
	// ClipBands scales the y axis to the values and lines only, cutting
	// bands at the plot's edge (an early always-valid interval is wide
	// enough to flatten everything else).
	ClipBands bool
}

func f1(b *strings.Builder, x float64) {
	s := strconv.FormatFloat(math.Round(x*10)/10, 'f', -1, 64)
	b.WriteString(s)
}

func esc(s string) string { return html.EscapeString(s) }

// niceStep is a round step giving about n ticks over span.
func niceStep(span float64, n int) float64 {
	if span <= 0 || !isFinite(span) {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

func fmtAxis(v float64, format string) string {
	switch format {
	case "pct":
		return strconv.FormatFloat(v*100, 'g', 3, 64) + "%"
	case "usd":
		return "$" + trimNum(v)
	case "ms":
		if abs(v) >= 10000 {
			return trimNum(v/1000) + "s"
		}
		return trimNum(v)
	}
	return trimNum(v)
}

func timeLabel(t int64, span int64) string {
	u := time.Unix(t, 0).UTC()
	if span > 2*86400 {
		return u.Format("Jan 2 15:04")
	}
	if span < 600 {
		return u.Format("15:04:05")
	}
	return u.Format("15:04")
}

// svg draws the chart.
func (c lineChart) svg() template.HTML {
	ymin, ymax := math.Inf(1), math.Inf(-1)
	upd := func(v float64) {
		if isFinite(v) {
			ymin, ymax = math.Min(ymin, v), math.Max(ymax, v)
		}
	}
	for _, s := range c.Series {
		for _, p := range s.Pts {
			upd(p.V)
			if !c.ClipBands {
				upd(p.Lo)
				upd(p.Hi)
			}
		}
	}
	for _, l := range c.Lines {
		upd(l.V)
	}
	if !isFinite(ymin) {
		ymin, ymax = 0, 1
	}
	if c.ZeroMin && ymin > 0 {
		ymin = 0
	}
	if ymax == ymin {
		ymax = ymin + math.Max(1e-9, abs(ymin)*0.1+1e-9)
		if ymin == 0 {
			ymax = 1
		}
	}
	pad := (ymax - ymin) * 0.05
	ymax += pad
	if !(c.ZeroMin && ymin == 0) {
		ymin -= pad
	}
	from, to := c.From, c.To
	// Zoom to the data when it covers only the end of the range (a
	// system started minutes ago, viewed over the last hour).
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	for _, s := range c.Series {
		if len(s.Pts) > 0 {
			first, last = min(first, s.Pts[0].T), max(last, s.Pts[len(s.Pts)-1].T)
		}
	}
	if first != math.MaxInt64 && (to-from) > 4*(last-first+2*c.Step) {
		from, to = max(from, first-c.Step), min(to, last+c.Step)
	}
	if to <= from {
		to = from + 1
	}
	pw, ph := chartW-padL-padR, chartH-padT-padB
	x := func(t int64) float64 { return padL + pw*float64(t-from)/float64(to-from) }
	y := func(v float64) float64 {
		return math.Max(padT, math.Min(padT+ph, padT+ph*(1-(v-ymin)/(ymax-ymin))))
	}

	var b strings.Builder
	b.Grow(1024 + 16*len(c.Series)*64)
	b.WriteString(`<svg class="chart" viewBox="0 0 560 170" role="img" aria-label="`)
	b.WriteString(esc(c.Title))
	b.WriteString(`" data-x0="` + strconv.FormatInt(from, 10) + `" data-x1="` + strconv.FormatInt(to, 10))
	b.WriteString(`" data-y0="` + strconv.FormatFloat(ymin, 'g', 8, 64) + `" data-y1="` + strconv.FormatFloat(ymax, 'g', 8, 64))
	b.WriteString(`" data-fmt="` + esc(c.Format) + `"><title>` + esc(c.Title) + `</title><g class="grid">`)
	st := niceStep(ymax-ymin, 4)
	for v := math.Ceil(ymin/st) * st; v <= ymax; v += st {
		yy := y(v)
		b.WriteString(`<line x1="52" x2="550" y1="`)
		f1(&b, yy)
		b.WriteString(`" y2="`)
		f1(&b, yy)
		b.WriteString(`"/><text x="48" y="`)
		f1(&b, yy+3)
		b.WriteString(`" text-anchor="end">` + esc(fmtAxis(v, c.Format)) + `</text>`)
	}
	for i := 0; i <= 3; i++ {
		t := from + (to-from)*int64(i)/3
		anchor := "middle"
		if i == 0 {
			anchor = "start"
		} else if i == 3 {
			anchor = "end"
		}
		b.WriteString(`<text y="166" x="`)
		f1(&b, x(t))
		b.WriteString(`" text-anchor="` + anchor + `">` + timeLabel(t, to-from) + `</text>`)
	}
	b.WriteString(`</g>`)
	gap := c.Step * 3 / 2
	for i, s := range c.Series {
		cls := "s" + strconv.Itoa(i%6)
		// The band: one closed shape per unbroken run of points.
		var band strings.Builder
		run := []point{}
		flush := func() {
			if len(run) > 1 {
				band.WriteString("M")
				for j, p := range run {
					if j > 0 {
						band.WriteString("L")
					}
					f1(&band, x(p.T))
					band.WriteString(" ")
					f1(&band, y(p.Hi))
				}
				for j := len(run) - 1; j >= 0; j-- {
					band.WriteString("L")
					f1(&band, x(run[j].T))
					band.WriteString(" ")
					f1(&band, y(run[j].Lo))
				}
				band.WriteString("Z")
			}
			run = run[:0]
		}
		for j, p := range s.Pts {
			if !isFinite(p.Lo) || !isFinite(p.Hi) || (j > 0 && gap > 0 && p.T-s.Pts[j-1].T > gap) {
				flush()
			}
			if isFinite(p.Lo) && isFinite(p.Hi) {
				run = append(run, p)
			}
		}
		flush()
		if band.Len() > 0 {
			b.WriteString(`<path class="band ` + cls + `" d="` + band.String() + `"/>`)
		}
		var line strings.Builder
		prev := int64(math.MinInt64)
		single := []point{}
		for j, p := range s.Pts {
			if !isFinite(p.V) {
				prev = math.MinInt64
				continue
			}
			if prev == math.MinInt64 || (gap > 0 && p.T-prev > gap) {
				line.WriteString("M")
				// A lone point (no neighbour in its run) gets a dot.
				if j+1 >= len(s.Pts) || !isFinite(s.Pts[j+1].V) || (gap > 0 && s.Pts[j+1].T-p.T > gap) {
					single = append(single, p)
				}
			} else {
				line.WriteString("L")
			}
			f1(&line, x(p.T))
			line.WriteString(" ")
			f1(&line, y(p.V))
			prev = p.T
		}
		if line.Len() > 0 {
			b.WriteString(`<path class="ln ` + cls + `" data-n="` + esc(s.Name) + `" d="` + line.String() + `"><title>` + esc(s.Name) + `</title></path>`)
		}
		for _, p := range single {
			b.WriteString(`<circle class="dot ` + cls + `" r="2.5" cx="`)
			f1(&b, x(p.T))
			b.WriteString(`" cy="`)
			f1(&b, y(p.V))
			b.WriteString(`"/>`)
		}
	}
	for _, l := range c.Lines {
		yy := y(l.V)
		b.WriteString(`<line class="thr" x1="52" x2="550" y1="`)
		f1(&b, yy)
		b.WriteString(`" y2="`)
		f1(&b, yy)
		b.WriteString(`"><title>` + esc(l.Label) + `</title></line><text class="thr" x="548" text-anchor="end" y="`)
		f1(&b, yy-3)
		b.WriteString(`">` + esc(l.Label) + `</text>`)
	}
	for _, m := range c.Marks {
		b.WriteString(`<circle class="mark" r="4" cx="`)
		f1(&b, x(m.T))
		b.WriteString(`" cy="`)
		f1(&b, y(m.V))
		b.WriteString(`"><title>` + esc(time.Unix(m.T, 0).UTC().Format("15:04:05")+": decided") + `</title></circle>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// legend lists a chart's series with their colour classes.
func legend(names []string) template.HTML {
	var b strings.Builder
	b.WriteString(`<ul class="legend">`)
	for i, n := range names {
		b.WriteString(`<li><i class="sw s` + strconv.Itoa(i%6) + `"></i>` + esc(n) + `</li>`)
	}
	b.WriteString(`</ul>`)
	return template.HTML(b.String())
}

// heatCell is one feature's drift in one window.
type heatCell struct {
	Has          bool
	Strength     float64 // evidence relative to its threshold: 1 = at the decision's threshold
	Flagged      bool
	Insufficient bool
	Tip          string
}

// heatmap is features (rows) × windows (columns).
type heatmap struct {
	Rows  []string
	Cols  []int64
	Cells [][]heatCell
	// Href links a cell to the distributions it compared; "{f}" and "{t}"
	// stand for the feature and the window start.
	Href string
}

const (
	heatLabelW = 170.0
	heatCellH  = 16.0
	heatLevels = 6
)

func (h heatmap) cellHref(row int, col int) string {
	return strings.NewReplacer("{f}", h.Rows[row], "{t}", strconv.FormatInt(h.Cols[col], 10)).Replace(h.Href)
}

// svg draws the heatmap: cells of one colour level share a path, flagged
// cells are links with a cross, and the script maps clicks and hovers on
// any cell to its window through the data attributes.
func (h heatmap) svg() template.HTML {
	n := len(h.Cols)
	cw := math.Max(4, math.Min(24, 700/math.Max(1, float64(n))))
	w := heatLabelW + cw*float64(n) + 4
	ht := heatCellH*float64(len(h.Rows)) + 24
	var b strings.Builder
	b.WriteString(`<svg class="heat" viewBox="0 0 `)
	f1(&b, w)
	b.WriteString(" ")
	f1(&b, ht)
	b.WriteString(`" width="`)
	f1(&b, w)
	b.WriteString(`" role="img" aria-label="drift heatmap" data-cw="`)
	f1(&b, cw)
	b.WriteString(`" data-ch="16" data-x0="170" data-rows="` + esc(strings.Join(h.Rows, ",")) + `" data-cols="`)
	for i, c := range h.Cols {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(strconv.FormatInt(c, 10))
	}
	b.WriteString(`" data-href="` + esc(h.Href) + `" data-tips="`)
	var tips []string
	for _, row := range h.Cells {
		var r []string
		for _, c := range row {
			r = append(r, c.Tip)
		}
		tips = append(tips, strings.Join(r, "|"))
	}
	b.WriteString(esc(strings.Join(tips, "~")))
	b.WriteString(`"><title>Drift per feature and window</title>`)
	levels := make([]strings.Builder, heatLevels+2) // 0..heatLevels-1 strength, then insufficient
	for ri, row := range h.Cells {
		yy := heatCellH * float64(ri)
		for ci, c := range row {
			if !c.Has {
				continue
			}
			lvl := heatLevels // insufficient data
			if !c.Insufficient {
				lvl = int(math.Min(float64(heatLevels-1), math.Floor(c.Strength/2*float64(heatLevels-1)+0.5)))
				if lvl < 0 {
					lvl = 0
				}
			}
			p := &levels[lvl]
			p.WriteString("M")
			f1(p, heatLabelW+cw*float64(ci))
			p.WriteString(" ")
			f1(p, yy+1)
			p.WriteString("h")
			f1(p, cw-1)
			p.WriteString("v14h-")
			f1(p, cw-1)
			p.WriteString("z")
		}
	}
	for i := range levels {
		if levels[i].Len() > 0 {
			b.WriteString(`<path class="h` + strconv.Itoa(i) + `" d="` + levels[i].String() + `"/>`)
		}
	}
	for ri, name := range h.Rows {
		yy := heatCellH*float64(ri) + 12
		latest := -1
		for ci := len(h.Cols) - 1; ci >= 0; ci-- {
			if h.Cells[ri][ci].Has {
				latest = ci
				break
			}
		}
		label := `<text x="164" text-anchor="end" y="` + strconv.FormatFloat(yy, 'f', 1, 64) + `">` + esc(name) + `</text>`
		if latest >= 0 {
			b.WriteString(`<a href="` + esc(h.cellHref(ri, latest)) + `">` + label + `</a>`)
		} else {
			b.WriteString(label)
		}
		for ci, c := range h.Cells[ri] {
			if !c.Flagged {
				continue
			}
			x0, y0 := heatLabelW+cw*float64(ci), heatCellH*float64(ri)+1
			b.WriteString(`<a class="flag" href="` + esc(h.cellHref(ri, ci)) + `" data-feature="` + esc(name) + `" data-at="` +
				strconv.FormatInt(h.Cols[ci], 10) + `"><rect class="flag" x="`)
			f1(&b, x0)
			b.WriteString(`" y="`)
			f1(&b, y0)
			b.WriteString(`" width="`)
			f1(&b, cw-1)
			b.WriteString(`" height="14"/><path class="cross" d="M`)
			f1(&b, x0+2)
			b.WriteString(" ")
			f1(&b, y0+2)
			b.WriteString("L")
			f1(&b, x0+cw-3)
			b.WriteString(" ")
			f1(&b, y0+12)
			b.WriteString("M")
			f1(&b, x0+cw-3)
			b.WriteString(" ")
			f1(&b, y0+2)
			b.WriteString("L")
			f1(&b, x0+2)
			b.WriteString(" ")
			f1(&b, y0+12)
			b.WriteString(`"/><title>` + esc(c.Tip) + `</title></a>`)
		}
	}
	if n > 0 {
		yy := heatCellH*float64(len(h.Rows)) + 16
		span := h.Cols[n-1] - h.Cols[0]
		labels := []int{0, n / 2, n - 1}
		if cw*float64(n) < 160 {
			labels = []int{0, n - 1}
		}
		if n == 1 {
			labels = []int{0}
		}
		for _, ci := range labels {
			anchor := "middle"
			if ci == 0 {
				anchor = "start"
			} else if ci == n-1 {
				anchor = "end"
			}
			b.WriteString(`<text class="ax" text-anchor="` + anchor + `" y="` + strconv.FormatFloat(yy, 'f', 1, 64) + `" x="`)
			f1(&b, heatLabelW+cw*float64(ci)+cw/2)
			b.WriteString(`">` + timeLabel(h.Cols[ci], span) + `</text>`)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// bar is one bin of two distributions compared, as shares of their
// totals.
type bar struct {
	Label     string
	Base, Cur float64
}

// histPair draws the baseline and the current distribution side by side
// on one scale.
func histPair(bars []bar, baseTitle, curTitle string) template.HTML {
	maxV := 0.0
	for _, b := range bars {
		maxV = math.Max(maxV, math.Max(b.Base, b.Cur))
	}
	if maxV == 0 {
		maxV = 1
	}
	const pw, ph, gap = 330.0, 150.0, 30.0
	n := math.Max(1, float64(len(bars)))
	bw := pw / n
	var b strings.Builder
	b.WriteString(`<svg class="hist" viewBox="0 0 720 220" role="img" aria-label="distributions compared"><title>` +
		esc(baseTitle+" vs "+curTitle) + `</title>`)
	for panel, title := range []string{baseTitle, curTitle} {
		x0 := 10 + float64(panel)*(pw+gap)
		b.WriteString(`<text class="pt" x="`)
		f1(&b, x0)
		b.WriteString(`" y="12">` + esc(title) + `</text>`)
		for i, bb := range bars {
			v := bb.Base
			if panel == 1 {
				v = bb.Cur
			}
			h := ph * v / maxV
			b.WriteString(`<rect class="b` + strconv.Itoa(panel) + `" x="`)
			f1(&b, x0+bw*float64(i)+0.5)
			b.WriteString(`" y="`)
			f1(&b, 20+ph-h)
			b.WriteString(`" width="`)
			f1(&b, math.Max(1, bw-1))
			b.WriteString(`" height="`)
			f1(&b, h)
			b.WriteString(`"><title>` + esc(bb.Label) + ": " + strconv.FormatFloat(v*100, 'f', 1, 64) + `%</title></rect>`)
		}
		if len(bars) > 0 {
			b.WriteString(`<text class="ax" y="190" x="`)
			f1(&b, x0)
			b.WriteString(`">` + esc(bars[0].Label) + `</text><text class="ax" text-anchor="end" y="204" x="`)
			f1(&b, x0+pw)
			b.WriteString(`">` + esc(bars[len(bars)-1].Label) + `</text>`)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// interval is one group's rate with its interval (bias).
type interval struct {
	Label        string
	V, Lo, Hi    float64
	Reference    bool
	Significant  bool
	Insufficient bool
}

// intervalPlot draws group rates as dots with their intervals; the
// reference group is hollow, significant disparities are marked.
func intervalPlot(rows []interval) template.HTML {
	maxV := 0.0
	for _, r := range rows {
		for _, v := range []float64{r.V, r.Hi} {
			if isFinite(v) {
				maxV = math.Max(maxV, v)
			}
		}
	}
	if maxV == 0 {
		maxV = 0.1
	}
	maxV *= 1.05
	const lw, pw, rh = 150.0, 380.0, 18.0
	h := rh*float64(len(rows)) + 22
	x := func(v float64) float64 { return lw + pw*v/maxV }
	var b strings.Builder
	b.WriteString(`<svg class="iv" viewBox="0 0 540 `)
	f1(&b, h)
	b.WriteString(`" role="img" aria-label="group rates with intervals"><title>Group rates with 95% intervals</title>`)
	for i, r := range rows {
		yy := rh*float64(i) + 12
		cls := "g"
		switch {
		case r.Significant:
			cls = "g sig"
		case r.Reference:
			cls = "g ref"
		case r.Insufficient:
			cls = "g ins"
		}
		b.WriteString(`<g class="` + cls + `"><text x="144" text-anchor="end" y="`)
		f1(&b, yy+4)
		b.WriteString(`">` + esc(r.Label) + `</text>`)
		if isFinite(r.Lo) && isFinite(r.Hi) {
			b.WriteString(`<line x1="`)
			f1(&b, x(r.Lo))
			b.WriteString(`" x2="`)
			f1(&b, x(r.Hi))
			b.WriteString(`" y1="`)
			f1(&b, yy)
			b.WriteString(`" y2="`)
			f1(&b, yy)
			b.WriteString(`"/>`)
		}
		if isFinite(r.V) {
			b.WriteString(`<circle r="4" cx="`)
			f1(&b, x(r.V))
			b.WriteString(`" cy="`)
			f1(&b, yy)
			b.WriteString(`"><title>` + esc(r.Label+": "+fmtPct(r.V)) + `</title></circle>`)
		}
		b.WriteString(`</g>`)
	}
	yy := rh*float64(len(rows)) + 16
	for i, v := range []float64{0, maxV / 2, maxV} {
		b.WriteString(`<text class="ax" text-anchor="` + []string{"start", "middle", "end"}[i] + `" y="`)
		f1(&b, yy)
		b.WriteString(`" x="`)
		f1(&b, x(v))
		b.WriteString(`">` + esc(fmtAxis(v, "pct")) + `</text>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
