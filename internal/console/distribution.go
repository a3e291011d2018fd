package console

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/sightline-dev/sightline/processors/window"
	"github.com/sightline-dev/sightline/schemas/windowpb"
)

// categoricalFeatures are the categorical drift features (window
// package's order); prompt_text drift is shown through prompt_topic, the
// topic buckets of the same hashed embedding.
var categoricalFeatures = []string{"finish_reason", "response_model", "prompt_script", "prompt_topic"}

// driftFeatures lists every feature a drift row can name, in display
// order.
func driftFeatures() []string {
	out := window.NumericFeatureNames()
	out = append(out, categoricalFeatures...)
	return append(out, "prompt_text")
}

// distribution is one feature's histogram in a window or baseline.
type distribution struct {
	Labels []string
	Counts []float64
	Total  float64
}

// featureDistribution decodes a merged partial's histogram of feature
// (the encoded form is the windowpb message; its numeric histograms carry
// their edges only when they differ from the defaults).
func featureDistribution(p *window.Partial, feature string) (distribution, error) {
	enc, err := p.MarshalBinary()
	if err != nil {
		return distribution{}, err
	}
	var m windowpb.Partial
	if err := proto.Unmarshal(enc, &m); err != nil {
		return distribution{}, fmt.Errorf("cannot decode window partial: %w", err)
	}
	if feature == "prompt_text" {
		feature = "prompt_topic"
	}
	var d distribution
	for _, n := range m.Numerics {
		if n.Name != feature {
			continue
		}
		edges := n.Edges
		if len(edges) == 0 {
			edges = window.DefaultEdges(feature)
		}
		for i, c := range n.Counts {
			var label string
			switch {
			case i == 0 && len(edges) > 0:
				label = "< " + fmtEdge(edges[0])
			case i >= len(edges) && len(edges) > 0:
				label = "≥ " + fmtEdge(edges[len(edges)-1])
			case i > 0 && i < len(edges):
				label = fmtEdge(edges[i-1]) + "–" + fmtEdge(edges[i])
			default:
				label = strconv.Itoa(i)
			}
			d.Labels = append(d.Labels, label)
			d.Counts = append(d.Counts, float64(c))
			d.Total += float64(c)
		}
		return d, nil
	}
	for _, c := range m.Categoricals {
		if c.Name != feature {
			continue
		}
		for i, k := range c.Keys {
			d.Labels = append(d.Labels, k)
			d.Counts = append(d.Counts, float64(c.Counts[i]))
			d.Total += float64(c.Counts[i])
		}
		if c.Other > 0 {
			d.Labels = append(d.Labels, window.OtherGroup)
			d.Counts = append(d.Counts, float64(c.Other))
			d.Total += float64(c.Other)
		}
		return d, nil
	}
	return d, nil
}

func fmtEdge(e float64) string {
	if e != 0 && (math.Abs(e) < 0.01 || math.Abs(e) >= 1e5) {
		return strconv.FormatFloat(e, 'g', 3, 64)
	}
	return strings.TrimSuffix(strings.TrimRight(strconv.FormatFloat(e, 'f', 2, 64), "0"), ".")
}

// compareBars aligns two distributions of a feature as shares of their
// totals, trimming the empty bins at both ends of a numeric histogram
// (they are many: log-spaced edges cover six decades).
func compareBars(base, cur distribution, numeric bool) []bar {
	idx := map[string]int{}
	var bars []bar
	add := func(d distribution, isCur bool) {
		for i, l := range d.Labels {
			j, ok := idx[l]
			if !ok {
				j = len(bars)
				idx[l] = j
				bars = append(bars, bar{Label: l})
			}
			if d.Total > 0 {
				if isCur {
					bars[j].Cur = d.Counts[i] / d.Total
				} else {
					bars[j].Base = d.Counts[i] / d.Total
				}
			}
		}
	}
	add(base, false)
	add(cur, true)
	if numeric {
		lo, hi := 0, len(bars)
		for lo < hi && bars[lo].Base == 0 && bars[lo].Cur == 0 {
			lo++
		}
		for hi > lo && bars[hi-1].Base == 0 && bars[hi-1].Cur == 0 {
			hi--
		}
		bars = bars[lo:hi]
	}
	return bars
}
